"""backend3 — step 3: HS256 JWTs with OAuth2 scopes (RFC 6749 §3.3, RFC 6750 §3.1).

Scopes ``me`` and ``items``; /token grants the requested scopes intersected with the user's allowed ones
(an unknown scope is invalid_scope); /users/me needs ``me``; /users/me/items needs ``me`` and ``items``;
/status needs a valid token only.
"""
from __future__ import annotations

from aiohttp import web

from .common import docs
from .common.keys import HSKeySource
from .common.password_grant import (HS256Authority, ScopeConfig, build_password_app, hs256_policy,
                                    items_handler, me_handler, status_handler)
from .common.settings import Settings

SCOPES = ScopeConfig({"me": "Read information about the current user", "items": "Read items"})


def create_app(settings: Settings) -> web.Application:
    keys = HSKeySource(settings.keys_dir)
    return build_password_app(
        settings, title="oauthlab backend3 (step 3: scopes)",
        description="Authorize as johndoe / secret and tick the scopes me and items.",
        scopes=SCOPES,
        make_authority=lambda store, s: HS256Authority(store, keys, hs256_policy(s), s.access_token_ttl),
        routes={"/users/me": ("The current user (scope me)", me_handler("me"),
                              {"$ref": "#/components/schemas/User"}),
                "/users/me/items": ("The current user's items (scopes me items)",
                                    items_handler("me", "items"), docs.ITEMS_SCHEMA),
                "/status": ("Token check (any valid token)", status_handler(), docs.STATUS_SCHEMA)},
    )
