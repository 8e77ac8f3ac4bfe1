"""In-process verification cost of one RS256 access token, side by side in one run:

- bare `cryptography` RSA PKCS#1 v1.5 verify of the token's signature (the floor of any real check);
- `jwt.decode` (PyJWT) with the same key and a full policy;
- our TokenVerifier, first sight (format + header checks + PyJWT + claim types);
- our TokenVerifier, cached (the same token again: hash + LRU look-up + expiry check).

    python run.py bench verify

Target: a cached verify under 5 us.
"""
from __future__ import annotations

import asyncio
import base64
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import jwt  # noqa: E402
from cryptography.hazmat.primitives import hashes  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import padding, rsa  # noqa: E402

from servers.common.tokens import TokenPolicy, TokenVerifier  # noqa: E402


def per_call(fn, n: int) -> float:
    fn()
    best = float("inf")
    for _ in range(3):
        t = time.perf_counter()
        for _ in range(n):
            fn()
        best = min(best, (time.perf_counter() - t) / n)
    return best * 1e6


def main(argv: list[str] | None = None) -> int:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pub = key.public_key()
    now = int(time.time())
    iss, aud = "http://127.0.0.1:9001", "http://127.0.0.1:9000"
    claims = {"iss": iss, "sub": "johndoe", "aud": aud, "iat": now, "exp": now + 600, "jti": uuid.uuid4().hex,
              "client_id": "frontend", "scope": "me items"}
    token = jwt.encode(claims, key, algorithm="RS256", headers={"typ": "at+jwt", "kid": "k1"})
    signing_input, sig = token.rsplit(".", 1)
    sig_bytes = base64.urlsafe_b64decode(sig + "=" * (-len(sig) % 4))
    policy = TokenPolicy(("RS256",), iss, aud, typ=("at+jwt",),
                         required=("exp", "iat", "iss", "aud", "sub", "client_id", "jti"))

    async def resolve(header):
        return pub

    fresh = TokenVerifier(policy, resolve, cache_size=0)
    cached = TokenVerifier(policy, resolve)
    loop = asyncio.new_event_loop()
    loop.run_until_complete(cached.verify(token))

    def drive(coro_fn):
        def run():
            coro = coro_fn()
            try:
                coro.send(None)
            except StopIteration:
                return
            raise RuntimeError("verify suspended")
        return run

    rows = [
        ("bare cryptography RSA verify", per_call(lambda: pub.verify(sig_bytes, signing_input.encode(),
                                                                     padding.PKCS1v15(), hashes.SHA256()), 2000)),
        ("PyJWT jwt.decode (full policy)", per_call(lambda: jwt.decode(token, pub, algorithms=["RS256"],
                                                                       audience=aud, issuer=iss), 2000)),
        ("TokenVerifier, first sight", per_call(drive(lambda: fresh.verify(token)), 2000)),
        ("TokenVerifier, cached", per_call(drive(lambda: cached.verify(token)), 50000)),
    ]
    base = rows[0][1]
    print(f"{'RS256 verify of one token':<34} {'us/call':>9} {'x bare RSA':>11}")
    for name, us in rows:
        print(f"{name:<34} {us:9.2f} {us / base:11.2f}")
    ok = rows[-1][1] < 5
    print(f"cached verify {'under' if ok else 'OVER'} 5 us")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
