"""backend2 — step 2: the password grant with HS256 JWT access tokens.

Tokens carry iss, aud, sub, iat, exp, jti (30 minutes) and are verified with one fixed policy: HS256
only (never from the header), required claims, exact issuer and audience, leeway <= 30 s.
"""
from __future__ import annotations

from aiohttp import web

from .common import docs
from .common.keys import HSKeySource
from .common.password_grant import (HS256Authority, ScopeConfig, build_password_app, hs256_policy,
                                    items_handler, me_handler)
from .common.settings import Settings


def create_app(settings: Settings) -> web.Application:
    keys = HSKeySource(settings.keys_dir)
    return build_password_app(
        settings, title="oauthlab backend2 (step 2: HS256 JWT)",
        description="Log in as johndoe / secret with the Authorize button; tokens are HS256 JWTs.",
        scopes=ScopeConfig({}),
        make_authority=lambda store, s: HS256Authority(store, keys, hs256_policy(s), s.access_token_ttl),
        routes={"/users/me": ("The current user", me_handler(), {"$ref": "#/components/schemas/User"}),
                "/users/me/items": ("The current user's items", items_handler(), docs.ITEMS_SCHEMA)},
    )
