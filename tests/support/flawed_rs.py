"""Small resource servers on PyJWT, each with at most one flaw, for the fuzzer's tests (tests only).

``create_app(key, algorithm, issuer, audience, flaw=None)`` serves ``GET /users/me`` the way a careful
application on PyJWT does: the algorithm pinned, issuer and audience checked, exp, iss, aud and sub
required, a 30 s leeway, ``typ`` checked (RFC 9068 §4), RFC 6750 §3 challenges on every refusal. ``flaw``
removes exactly one of those checks, the way real applications get them wrong:

- ``"exp"``: ``verify_exp`` off and exp not required (tokens never expire);
- ``"aud"``: ``verify_aud`` off and aud not required (tokens for any audience);
- ``"leeway"``: a one-day leeway;
- ``"iss"``: no ``issuer=`` and iss not required (tokens from any issuer);
- ``"nbf"``: ``verify_nbf`` off;
- ``"challenge"``: every check made, but refusals carry no ``WWW-Authenticate`` challenge (a conformance
  deviation, not a vulnerability).
"""
from __future__ import annotations

from typing import Any

import jwt
from aiohttp import web

FLAWS = ("exp", "aud", "leeway", "iss", "nbf", "challenge")
CAREFUL_LEEWAY = 30


def _challenge(status: int, error: str | None = None, send_challenge: bool = True) -> web.Response:
    value = "Bearer" + (f' error="{error}"' if error else "")
    body = {"error": error} if error else {}
    return web.json_response(body, status=status, headers={"WWW-Authenticate": value} if send_challenge else {})


def create_app(key: Any, algorithm: str, issuer: str, audience: str, flaw: str | None = None) -> web.Application:
    if flaw is not None and flaw not in FLAWS:
        raise ValueError(f"unknown flaw {flaw!r}")
    required = [c for c in ("exp", "iss", "aud", "sub") if c != flaw]
    options = {"require": required, "verify_exp": flaw != "exp", "verify_aud": flaw != "aud",
               "verify_nbf": flaw != "nbf"}
    leeway = 86400 if flaw == "leeway" else CAREFUL_LEEWAY
    verify_key = key if isinstance(key, bytes) else key.public_key()

    def refuse(status: int, error: str | None = None) -> web.Response:
        return _challenge(status, error, send_challenge=flaw != "challenge")

    async def me(request: web.Request) -> web.Response:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return refuse(401)
        if " " in token.strip() or "\t" in token:
            return refuse(400, "invalid_request")
        try:
            typ = jwt.get_unverified_header(token).get("typ")
            if not isinstance(typ, str) or typ.lower().removeprefix("application/") != "at+jwt":
                return refuse(401, "invalid_token")
            claims = jwt.decode(token, verify_key, algorithms=[algorithm], audience=None if flaw == "aud" else audience,
                                issuer=None if flaw == "iss" else issuer, leeway=leeway, options=options)
        except jwt.PyJWTError:
            return refuse(401, "invalid_token")
        return web.json_response({"sub": claims.get("sub")})

    app = web.Application()
    app.router.add_get("/users/me", me)
    return app


def profile(base_url: str, key_file: str, algorithm: str, issuer: str) -> dict:
    """The profile (as a dict) of one of these servers; ``key_file`` holds the secret or the private key."""
    res = {"endpoint": "/users/me", "issuer": issuer, "audience": base_url, "algorithm": algorithm,
           "typ": "at+jwt", "rfc9068": True, "subject": "johndoe", "scope": "me", "lifetime": 300}
    res["secret_file" if algorithm.startswith("HS") else "private_key_file"] = key_file
    return {"name": "flawed-rs", "kind": "resource-server", "base_url": base_url, "resource": res}
