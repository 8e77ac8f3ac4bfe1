"""Small, deliberately vulnerable authorization servers for the harness self-check (tests only).

``create_as(Flaws(...))`` is an authorization server (code flow + PKCE, login form with CSRF token, consent
page optional, refresh tokens, client_credentials, revocation, RFC 8414 metadata). With ``Flaws()`` it
follows every rule the AS catalog checks, so it must get zero findings; each flag breaks exactly one rule
the way real servers have (prefix-matched redirect URIs, PKCE optional, code replay...), so the self-check
can assert that exactly the scenarios meant to catch it fail.

``create_password_server(PasswordFlaws(...))`` is the same idea for a password-grant token endpoint like
our backend/backend2/backend3.

Everything is in memory and deliberately small: no bcrypt, no store. Never run these outside tests.
The parts: ``vulnerable_common`` (the flaws, clients and response helpers), ``vulnerable_authorize`` (the
authorization endpoint, login and consent), ``vulnerable_token`` (token and revocation endpoints),
``vulnerable_password`` (the password server); this module assembles the authorization server.
"""
from __future__ import annotations

from aiohttp import web

from .vulnerable_authorize import authorize, consent_post, login
import itertools

from .vulnerable_common import CLIENTS, FLAWS, M2M_SECRET, REDIRECT, SCOPES, STATE, USERS, Flaws  # noqa: F401
from .vulnerable_password import PasswordFlaws, create_password_server  # noqa: F401
from .vulnerable_token import revoke, token


async def metadata(request: web.Request) -> web.Response:
    flaws = request.app[FLAWS]
    base = str(request.url.origin())
    meta = {"issuer": base, "authorization_endpoint": f"{base}/authorize", "token_endpoint": f"{base}/token",
            "revocation_endpoint": f"{base}/revoke", "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
            "scopes_supported": list(SCOPES), "authorization_response_iss_parameter_supported": True}
    if not flaws.no_pkce_metadata:
        meta["code_challenge_methods_supported"] = ["plain", "S256"] if flaws.plain_accepted else ["S256"]
    return web.json_response(meta)


def create_as(flaws: Flaws = Flaws(), *, consent: bool = False, code_ttl: float = 60.0) -> web.Application:
    app = web.Application()
    app[FLAWS] = flaws
    app[STATE] = {"sessions": {}, "csrf": {}, "codes": {}, "used_codes": {}, "used_until": {}, "access": {},
                  "refresh": {}, "code_ttl": code_ttl,
                  "revoked_families": set(), "consent": consent, "consented": {}, "counter": itertools.count(1)}
    app.router.add_get("/.well-known/oauth-authorization-server", metadata)
    app.router.add_get("/authorize", authorize)
    app.router.add_post("/authorize", authorize)     # RFC 6749 §3.1: MAY support POST (parameters in the query here)
    app.router.add_post("/login", login)
    app.router.add_post("/consent", consent_post)
    app.router.add_route("*", "/token", token)
    app.router.add_post("/revoke", revoke)
    return app
