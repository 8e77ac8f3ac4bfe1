"""RFC 7636 (PKCE): the Appendix B vector, the verifier ABNF and the S256-only, constant-time check."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from servers.common import pkce

UNRESERVED = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"


def test_rfc7636_appendix_b_vector():
    """RFC 7636 Appendix B: verifier dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk -> challenge
    E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM ("code_challenge = BASE64URL-ENCODE(SHA256(ASCII(code_verifier)))")."""
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    assert pkce.s256(verifier) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    assert pkce.verify(verifier, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM")
    octets = [116, 24, 223, 180, 151, 153, 224, 37, 79, 250, 96, 125, 216, 173, 187, 186, 22, 212, 37, 77,
              105, 214, 191, 240, 91, 88, 5, 88, 83, 132, 141, 121]
    import base64
    assert base64.urlsafe_b64encode(bytes(octets)).decode().rstrip("=") == verifier


@pytest.mark.parametrize("verifier", ["a" * 43, "a" * 128, UNRESERVED[:43], "~" * 60])
def test_verifier_of_43_to_128_unreserved_characters_is_valid(verifier):
    """RFC 7636 §4.1: "code-verifier = 43*128unreserved"."""
    assert pkce.is_valid_verifier(verifier)


@pytest.mark.parametrize("verifier", ["a" * 42, "a" * 129, "a" * 42 + "+", "a" * 42 + "/", "a" * 42 + "=",
                                      "a" * 42 + " ", "é" * 43, ""])
def test_verifier_outside_the_abnf_is_refused(verifier):
    """RFC 7636 §4.1: "code-verifier = 43*128unreserved" (no +, /, =, space; length 43..128)."""
    assert not pkce.is_valid_verifier(verifier)
    assert not pkce.verify(verifier, pkce.s256("a" * 43))


@given(st.text(alphabet=UNRESERVED, min_size=43, max_size=128))
def test_any_valid_verifier_matches_its_own_s256_challenge_only(verifier):
    """RFC 7636 §4.6: the server recomputes BASE64URL(SHA256(verifier)) and compares it to the challenge."""
    challenge = pkce.s256(verifier)
    assert pkce.is_valid_challenge(challenge)
    assert pkce.verify(verifier, challenge)
    other = ("b" if verifier[0] != "b" else "c") + verifier[1:]
    assert not pkce.verify(other, challenge)


def test_plain_challenge_equal_to_verifier_does_not_verify():
    """RFC 9700 §2.1.1: S256 only; a 'plain' challenge (the verifier itself) must not pass."""
    v = "a" * 43
    assert not pkce.verify(v, v)
    assert not pkce.is_valid_challenge("a" * 42) and not pkce.is_valid_challenge("a" * 42 + "+")
