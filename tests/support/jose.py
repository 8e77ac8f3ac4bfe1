"""JOSE test bits: base64url without padding (RFC 7515 §2), big-endian integers for JWK members
(RFC 7518 §6.3.1) and a clock the test moves by hand."""
from __future__ import annotations

import base64


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64uint(n: int, size: int | None = None) -> str:
    return b64(n.to_bytes(size or (n.bit_length() + 7) // 8, "big"))


class Clock:
    """Moved by hand: the JWKS refetch limit is 30 s and tests do not sleep 30 s."""
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now
