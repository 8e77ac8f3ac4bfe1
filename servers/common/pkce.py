"""Proof Key for Code Exchange (RFC 7636), S256 only (RFC 9700 §2.1.1).

- §4.1: ``code-verifier = 43*128unreserved``, ``unreserved = ALPHA / DIGIT / "-" / "." / "_" / "~"``;
- §4.2: ``code_challenge = BASE64URL-ENCODE(SHA256(ASCII(code_verifier)))``; for S256 it is always
  43 characters of the base64url alphabet (a 256-bit digest without padding);
- §4.3/§4.4.1: the ``plain`` method and an absent method (which defaults to plain) are refused: RFC 9700
  §2.1.1 "Currently, S256 is the only such method";
- §4.6: the server recomputes the challenge from the verifier and compares it, here in constant time.

Appendix B's vector: verifier ``dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk`` gives challenge
``E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM`` (tests/test_pkce.py).
"""
from __future__ import annotations

import base64
import hashlib
import re
import secrets

METHOD = "S256"
VERIFIER = re.compile(r"[A-Za-z0-9\-._~]{43,128}")
S256_CHALLENGE = re.compile(r"[A-Za-z0-9\-_]{43}")


def is_valid_verifier(verifier: str) -> bool:
    """RFC 7636 §4.1 ABNF: 43 to 128 unreserved characters."""
    return bool(VERIFIER.fullmatch(verifier))


def is_valid_challenge(challenge: str) -> bool:
    """An S256 challenge: exactly 43 base64url characters (RFC 7636 §4.2 with a SHA-256 digest)."""
    return bool(S256_CHALLENGE.fullmatch(challenge))


def s256(verifier: str) -> str:
    """RFC 7636 §4.2: BASE64URL(SHA256(ASCII(verifier))) without padding."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


def new_verifier(nbytes: int = 32) -> str:
    """A fresh verifier: 32 random octets base64url-encoded = 43 characters (RFC 7636 §4.1 "RECOMMENDED")."""
    return secrets.token_urlsafe(nbytes)


def verify(verifier: str, challenge: str) -> bool:
    """RFC 7636 §4.6: well-formed verifier whose S256 transform equals the challenge (constant time)."""
    if not is_valid_verifier(verifier):
        return False
    return secrets.compare_digest(s256(verifier).encode("ascii"), challenge.encode("ascii"))
