"""backend — step 1, "extremely basic": the password grant with an opaque random access token.

POST /token (RFC 6749 §4.3) returns a 256-bit random token stored server-side (by hash) for 30 minutes;
GET /users/me returns the token's user. No JWT, no scopes: the simplest thing that is still correct.
"""
from __future__ import annotations

from aiohttp import web

from .common.password_grant import OpaqueAuthority, ScopeConfig, build_password_app, me_handler
from .common.settings import Settings


def create_app(settings: Settings) -> web.Application:
    return build_password_app(
        settings, title="oauthlab backend (step 1: password flow, opaque token)",
        description="Log in as johndoe / secret with the Authorize button, then call GET /users/me.",
        scopes=ScopeConfig({}),
        make_authority=lambda store, s: OpaqueAuthority(store, s.access_token_ttl),
        routes={"/users/me": ("The current user", me_handler(), {"$ref": "#/components/schemas/User"})},
    )
