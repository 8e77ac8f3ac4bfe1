"""PKCE (catalog §6; RFC 7636, RFC 9700 §2.1.1 and §4.8): the authorization server binds each code to a
S256 challenge and redeems it only with the matching, well-formed verifier.

The bad-verifier family is one of the five scenarios that define the product, so it is thorough: no
verifier, a wrong one (random; the challenge itself; one character changed; truncated; extended; case
flipped), the verifier of another flow, malformed lengths and characters, a verifier where no challenge
was sent (downgrade), and the method games (plain, no method, unknown method, malformed challenge).
"""
from __future__ import annotations

from harness.aschecks import any_of, by_label, expect_error, expect_error_redirect, expect_token
from harness.askit import RFC7636_PAIR, Pkce, new_verifier, s256
from harness.scenario import Scenario

FAMILY = "pkce"
AS = "authorization-server"
CODE_FLOW = frozenset({"authorization_code"})

S_PLAIN = "pkce-plain-7Hq2"
S_REQUIRED = "pkce-required-Jm4x"
S_UNKNOWN = "pkce-unknown-Qs8c"
S_CHALLENGE = "pkce-challenge-Vb3n"


# -- mutations ------------------------------------------------------------------------------------------------
async def redeem_known_answer_pair(kit):
    """The RFC 7636 Appendix B challenge at authorize, its verifier at the token endpoint."""
    authz = await kit.authorize(label="authorize with the RFC 7636 Appendix B challenge", pkce=RFC7636_PAIR)
    if not authz.code:
        return [authz.observation]
    return [await kit.redeem(authz, label="token with the RFC 7636 Appendix B verifier")]


async def drop_code_verifier(kit):
    authz = await kit.authorize(label="authorize (S256)")
    authz.require_code()
    return [await kit.redeem(authz, verifier=None, label="token without code_verifier")]


def wrong_verifiers(good: str, challenge: str) -> list[tuple[str, str]]:
    """Well-formed verifiers that are not the one the challenge was made from."""
    flipped = good[:-1] + ("A" if good[-1] != "A" else "B")
    return [("a random verifier", new_verifier(64)),
            ("the code_challenge itself as verifier", challenge),
            ("the verifier with its last character changed", flipped),
            ("the verifier truncated to 43 characters", good[:43]),
            ("the verifier with one character appended", good + "A"),
            ("the verifier with its case inverted", good.swapcase())]


async def swap_code_verifier(kit):
    """One flow per wrong verifier (a refused redemption may burn the code)."""
    out = []
    for label, _ in wrong_verifiers(new_verifier(64), "x" * 43):
        authz = await kit.authorize(label=f"authorize for: {label}")
        authz.require_code()
        good = authz.pkce.verifier
        wrong = dict(wrong_verifiers(good, authz.pkce.challenge))[label]
        out.append(await kit.redeem(authz, verifier=wrong, label=f"token with {label}"))
    return out


async def cross_code_verifier(kit):
    """Flow A and flow B by the same client; B's code redeemed with A's verifier."""
    a = await kit.authorize(label="authorize flow A")
    a.require_code()
    b = await kit.authorize(label="authorize flow B")
    b.require_code()
    return [await kit.redeem(b, verifier=a.pkce.verifier, label="token: code of flow B with the verifier of flow A")]


async def send_verifier_without_challenge(kit):
    """RFC 9700 §4.8.2: no challenge at authorize, a verifier at the token endpoint."""
    authz = await kit.authorize(label="authorize without code_challenge", pkce=None)
    if not authz.code:
        return [authz.observation]  # refused at authorize: the downgrade cannot start
    return [await kit.redeem(authz, verifier=new_verifier(64), label="token with a code_verifier, no challenge sent")]


async def drop_code_challenge(kit):
    authz = await kit.authorize(label="authorize without code_challenge", pkce=None, state=S_REQUIRED)
    return [authz.observation]


async def set_method_plain(kit):
    v = new_verifier(64)
    authz = await kit.authorize(label="authorize with code_challenge_method=plain", state=S_PLAIN,
                                pkce=Pkce(v, v, "plain"))
    return [authz.observation]


async def drop_challenge_method(kit):
    """challenge = S256(v) without a method: the method defaults to plain (RFC 7636 §4.3), so v must fail."""
    pair = Pkce.new()
    authz = await kit.authorize(label="authorize: S256 challenge, no code_challenge_method",
                                pkce=Pkce(pair.verifier, pair.challenge, None))
    if not authz.code:
        return [authz.observation]
    return [await kit.redeem(authz, verifier=pair.verifier, label="token with the verifier (method defaulted)")]


async def set_unknown_method(kit):
    """S512, s256 (methods are case-sensitive), SHA256. An EMPTY method is "omitted" (RFC 6749 §3.1), which
    is pkce-method-default-plain's case, not this one."""
    out = []
    for method in ("S512", "s256", "SHA256"):
        pair = Pkce.new()
        authz = await kit.authorize(label=f"authorize with code_challenge_method={method!r}", state=S_UNKNOWN,
                                    pkce=Pkce(pair.verifier, pair.challenge, method))
        out.append(authz.observation)
    return out


MALFORMED_VERIFIERS = (
    ("42 characters", lambda: new_verifier(42)),
    ("129 characters", lambda: new_verifier(129)),
    ("a '+'", lambda: new_verifier(30) + "+" + new_verifier(30)),
    ("a '/'", lambda: new_verifier(30) + "/" + new_verifier(30)),
    ("a '='", lambda: new_verifier(60) + "="),
    ("a space", lambda: new_verifier(30) + " " + new_verifier(30)),
    ("a non-ASCII letter", lambda: new_verifier(30) + "\u00e9" + new_verifier(30)),
)


async def malform_code_verifier(kit):
    """Each malformed verifier with ITS OWN S256 challenge, so only the syntax can make it fail; then the
    43- and 128-character boundaries must work (controls)."""
    out = []
    for label, make in MALFORMED_VERIFIERS:
        v = make()
        authz = await kit.authorize(label=f"authorize for a verifier with {label}", pkce=Pkce(v, s256(v)))
        if not authz.code:
            out.append(authz.observation)  # refused at authorize? the challenge itself is well-formed: judged
            continue
        out.append(await kit.redeem(authz, label=f"token with a verifier of {label}"))
    for n in (43, 128):
        authz = await kit.authorize(label=f"control: authorize for a {n}-character verifier", pkce=Pkce.new(n))
        authz.require_code()
        out.append(await kit.redeem(authz, label=f"control: token with a {n}-character verifier"))
    return out


async def malform_code_challenge(kit):
    good = Pkce.new()
    challenges = (("42 characters", good.challenge[:42]),
                  ("a '+'", good.challenge[:20] + "+" + good.challenge[21:]),
                  ("a '=' (padded)", good.challenge + "="),
                  ("129 characters", new_verifier(129)))
    out = []
    for label, challenge in challenges:
        authz = await kit.authorize(label=f"authorize with a code_challenge of {label}", state=S_CHALLENGE,
                                    pkce=Pkce(good.verifier, challenge, "S256"))
        out.append(authz.observation)
    return out


async def fetch_metadata(kit):
    from harness.client import send
    obs = await send(kit.session, "GET", kit.metadata_observation.url, label="metadata",
                     headers={"Accept": "application/json"})
    return [obs]


def _metadata_rule(obs) -> list[str]:
    meta = obs.json if isinstance(obs.json, dict) else {}
    if obs.status != 200:
        return [f"metadata answered {obs.status}"]
    methods = meta.get("code_challenge_methods_supported")
    if not isinstance(methods, list):
        return ["no code_challenge_methods_supported: clients cannot detect PKCE support (RFC 9700 §2.1.1)"]
    if "S256" not in methods:
        return [f"code_challenge_methods_supported {methods!r} lacks S256"]
    return []


# -- the catalog rows -----------------------------------------------------------------------------------------
REFUSED_AT_TOKEN = expect_error(400, "invalid_grant")
REFUSED_ANYWHERE = any_of(expect_error_redirect("invalid_request"), expect_error(400, "invalid_grant"))

SCENARIOS: list[Scenario] = [
    Scenario("pkce-rfc7636-vector", "The RFC 7636 Appendix B challenge/verifier pair redeems a code (known answer).",
             ("RFC 7636 Appendix B", "RFC 7636 §4.6"), AS, "high", redeem_known_answer_pair, expect_token(), CODE_FLOW,
             FAMILY),
    Scenario("pkce-verifier-missing", "A code issued for an S256 challenge is refused without code_verifier.",
             ("RFC 7636 §4.6", "RFC 9700 §2.1.1"), AS, "critical", drop_code_verifier, REFUSED_AT_TOKEN, CODE_FLOW,
             FAMILY),
    Scenario("pkce-verifier-wrong", "Well-formed verifiers that do not match the challenge are refused "
             "(random, the challenge itself, one character changed, truncated, extended, case inverted).",
             ("RFC 7636 §4.6", "RFC 9700 §2.1.1"), AS, "critical", swap_code_verifier, REFUSED_AT_TOKEN, CODE_FLOW,
             FAMILY),
    Scenario("pkce-downgrade", "A code_verifier is refused for a code whose request carried no challenge.",
             ("RFC 9700 §2.1.1", "RFC 9700 §4.8.2"), AS, "high", send_verifier_without_challenge, REFUSED_ANYWHERE,
             CODE_FLOW, FAMILY),
    Scenario("pkce-required-public", "A public client's authorization request without code_challenge is refused.",
             ("RFC 7636 §4.4.1", "RFC 9700 §2.1.1"), AS, "high", drop_code_challenge,
             expect_error_redirect("invalid_request", state=S_REQUIRED), CODE_FLOW, FAMILY),
    Scenario("pkce-plain-rejected", "code_challenge_method=plain is refused (S256 only).",
             ("RFC 9700 §2.1.1", "RFC 7636 §4.2"), AS, "medium", set_method_plain,
             expect_error_redirect("invalid_request", state=S_PLAIN), CODE_FLOW, FAMILY),
    Scenario("pkce-method-default-plain", "An S256 challenge sent without a method is not silently treated as S256.",
             ("RFC 7636 §4.3",), AS, "medium", drop_challenge_method, REFUSED_ANYWHERE, CODE_FLOW, FAMILY),
    Scenario("pkce-method-unknown", "Unknown or mis-cased code_challenge_method values are refused.",
             ("RFC 7636 §4.4.1",), AS, "medium", set_unknown_method,
             expect_error_redirect("invalid_request", state=S_UNKNOWN), CODE_FLOW, FAMILY),
    Scenario("pkce-verifier-format", "Verifiers outside 43*128unreserved are refused even when their S256 "
             "matches; 43 and 128 characters work.", ("RFC 7636 §4.1",), AS, "medium", malform_code_verifier,
             by_label(any_of(expect_error(400, "invalid_request", "invalid_grant"),
                             expect_error_redirect("invalid_request")),
                      control=expect_token()), CODE_FLOW, FAMILY),
    Scenario("pkce-challenge-format", "Challenges outside 43*128unreserved are refused at the authorization "
             "endpoint.", ("RFC 7636 §4.2",), AS, "low", malform_code_challenge,
             expect_error_redirect("invalid_request", state=S_CHALLENGE), CODE_FLOW, FAMILY),
    Scenario("pkce-cross-code", "The verifier of one flow does not redeem the code of another.",
             ("RFC 7636 §4.4", "RFC 9700 §4.5.3.1"), AS, "critical", cross_code_verifier, REFUSED_AT_TOKEN, CODE_FLOW,
             FAMILY),
    Scenario("pkce-metadata", "The metadata lists S256 in code_challenge_methods_supported.",
             ("RFC 9700 §2.1.1", "RFC 8414 §2"), AS, "low", fetch_metadata, _metadata_rule,
             CODE_FLOW, FAMILY),
]
NOT_APPLICABLE: dict[str, str] = {}
