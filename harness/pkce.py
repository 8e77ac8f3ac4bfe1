"""PKCE for the harness's authorization requests (RFC 7636): verifiers, S256 challenges, the Appendix B pair."""
from __future__ import annotations

import base64
import hashlib
import secrets
import string
from dataclasses import dataclass

RFC7636_VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
RFC7636_CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
UNRESERVED = string.ascii_letters + string.digits + "-._~"      # RFC 7636 §4.1


def s256(verifier: str) -> str:
    """code_challenge = BASE64URL-ENCODE(SHA256(ASCII(code_verifier))) (RFC 7636 §4.2)."""
    digest = hashlib.sha256(verifier.encode("utf-8")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def new_verifier(length: int = 64) -> str:
    """A random verifier of ``length`` unreserved characters (RFC 7636 §4.1: 43..128)."""
    return "".join(secrets.choice(UNRESERVED) for _ in range(length))


@dataclass(frozen=True)
class Pkce:
    verifier: str
    challenge: str
    method: str | None = "S256"

    @classmethod
    def new(cls, length: int = 64) -> "Pkce":
        v = new_verifier(length)
        return cls(v, s256(v))

    @classmethod
    def for_verifier(cls, verifier: str) -> "Pkce":
        return cls(verifier, s256(verifier))


RFC7636_PAIR = Pkce(RFC7636_VERIFIER, RFC7636_CHALLENGE)
