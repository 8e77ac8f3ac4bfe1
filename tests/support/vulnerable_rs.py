"""Small, deliberately vulnerable resource servers for the harness self-check (tests only).

``create_rs(RSFlaws(...), key)`` is a resource server built from the shared pieces of our servers (the
RFC 6750 bearer parsing, the one error middleware, the fixed-policy ``TokenVerifier``). With ``RSFlaws()``
it follows every rule the RS catalog checks, so it must get zero findings; each flag breaks exactly one
rule the way real libraries have (alg none accepted, exp or aud not verified, the RSA public key used as
an HMAC secret, kid used as a file path, scope never checked, typ ignored), so the self-check can assert
that exactly the scenarios meant to catch it fail. Never run these outside tests.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from dataclasses import dataclass, replace
from typing import Any

from aiohttp import web
from cryptography.hazmat.primitives import serialization

from servers.common.bearer import AUTHENTICATOR, PRINCIPAL, Principal, principal_from_claims, requires
from servers.common.errors import InvalidToken
from servers.common.middleware import add_routes, base_app
from servers.common.tokens import TokenPolicy, TokenVerifier, b64url_json

ISSUER = "http://issuer.test"
SUBJECT = "johndoe"
SCOPE = "me items"


@dataclass(frozen=True)
class RSFlaws:
    alg_none: bool = False          # alg "none" (exact spelling) accepted without a signature
    exp_ignored: bool = False       # exp neither required nor verified
    aud_ignored: bool = False       # aud neither required nor verified
    hs_public_key: bool = False     # RS256 server that also accepts HS256 keyed with its SPKI PEM
    kid_path: bool = False          # an unknown kid is read as a file path: the file's bytes are the HMAC key
    scope_unchecked: bool = False   # the scoped endpoint never checks the scope
    typ_ignored: bool = False       # typ not checked


def _b64d(s: str) -> bytes:
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


class FlawedAuthenticator:
    """The real verifier, with one rule removed or one bypass added in front of it."""

    def __init__(self, flaws: RSFlaws, key: Any, kid: str, audience: str) -> None:
        self.flaws, self.key, self.kid = flaws, key, kid
        rsa = not isinstance(key, bytes)
        required = tuple(c for c in ("exp", "iat", "iss", "aud", "sub", "jti", "client_id")
                         if not (flaws.exp_ignored and c == "exp") and not (flaws.aud_ignored and c == "aud"))
        self.policy = TokenPolicy(algorithms=("RS256",) if rsa else ("HS256",), issuer=ISSUER, audience=audience,
                                  typ=None if flaws.typ_ignored else ("at+jwt",), required=required)
        self.verifier = TokenVerifier(self.policy, self.resolve, cache_size=0)
        self.verifier._options.update(verify_exp=not flaws.exp_ignored, verify_aud=not flaws.aud_ignored)
        self.public_pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                                        serialization.PublicFormat.SubjectPublicKeyInfo) if rsa else b""

    async def resolve(self, header: dict) -> Any:
        if isinstance(self.key, bytes):
            kid = header.get("kid")
            if kid in (None, self.kid):
                return self.key
            raise InvalidToken("unknown kid")
        return self.key.public_key()

    def _unverified_claims(self, token: str) -> dict:
        claims = json.loads(_b64d(token.split(".")[1]))
        if not isinstance(claims, dict) or claims.get("iss") != ISSUER or not isinstance(claims.get("exp"), int) \
                or claims["exp"] < time.time() or claims.get("aud") != self.policy.audience:
            raise InvalidToken("claims")
        return claims

    async def authenticate(self, token: str) -> Principal:
        try:
            header = b64url_json(token.split(".")[0])
        except Exception:
            header = None
        if isinstance(header, dict):
            if self.flaws.alg_none and header.get("alg") == "none":
                try:
                    return principal_from_claims(self._unverified_claims(token))
                except (ValueError, IndexError):
                    raise InvalidToken("bad token") from None
            kid = header.get("kid")
            if self.flaws.kid_path and isinstance(kid, str) and kid != self.kid and token.count(".") == 2:
                try:
                    with open(kid, "rb") as fh:  # the flaw: kid is a path, the file's bytes the HMAC key
                        file_key = fh.read(4096)
                except (OSError, ValueError):
                    raise InvalidToken("no such key") from None
                h, p, s = token.split(".")
                if hmac.compare_digest(hmac.new(file_key, f"{h}.{p}".encode(), hashlib.sha256).digest(), _b64d(s)):
                    return principal_from_claims(self._unverified_claims(token))
                raise InvalidToken("bad signature")
            if self.flaws.hs_public_key and header.get("alg") == "HS256" and token.count(".") == 2:
                h, p, s = token.split(".")
                mac = hmac.new(self.public_pem, f"{h}.{p}".encode(), hashlib.sha256).digest()
                if hmac.compare_digest(mac, _b64d(s)):
                    return principal_from_claims(self._unverified_claims(token))
                raise InvalidToken("bad signature")
        return principal_from_claims(await self.verifier.verify(token))


def create_rs(flaws: RSFlaws, key: Any, kid: str, audience: str) -> web.Application:
    app = base_app()
    app[AUTHENTICATOR] = FlawedAuthenticator(flaws, key, kid, audience)

    @requires("me")
    async def me(request: web.Request) -> web.Response:
        return web.json_response({"username": request[PRINCIPAL].claims.get("sub")})

    @requires(*(("me",) if flaws.scope_unchecked else ("me", "items")))
    async def items(request: web.Request) -> web.Response:
        return web.json_response([{"item_id": "Foo"}])

    async def health(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    add_routes(app, [web.get("/users/me", me), web.get("/users/me/items", items), web.get("/health", health)])
    return app


def profile(base_url: str, key_file: str, algorithm: str) -> dict:
    """The TOML-equivalent profile of a vulnerable server (the key file holds its secret or private key)."""
    res = {"endpoint": "/users/me", "scoped_endpoint": "/users/me/items", "scoped_scope": "items",
           "issuer": ISSUER, "audience": base_url, "algorithm": algorithm, "typ": "at+jwt", "rfc9068": True,
           "subject": SUBJECT,
           "scope": SCOPE, "lifetime": 300, "leeway": 30, "claims": {"client_id": "frontend"}}
    res["secret_file" if algorithm == "HS256" else "private_key_file"] = key_file
    return {"name": "vulnerable-rs", "kind": "resource-server", "base_url": base_url, "resource": res}


__all__ = ["RSFlaws", "create_rs", "profile", "replace"]
