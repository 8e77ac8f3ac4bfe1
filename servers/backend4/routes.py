"""backend4's protected routes: what a verified token says (RFC 9068 §4), by scope (RFC 6750 §3.1)."""
from __future__ import annotations

import json

from aiohttp import web

from servers.common import docs
from servers.common.bearer import PRINCIPAL, requires
from servers.common.password_grant import ITEMS

TOKEN_USER_SCHEMA = {
    "type": "object", "required": ["username", "client_id", "scope"],
    "properties": {"username": {"type": "string", "description": "the token's sub"},
                   "client_id": {"type": "string"}, "azp": {"type": "string"},
                   "scope": {"type": "string"}, "gty": {"type": "string"},
                   "iss": {"type": "string"}, "exp": {"type": "integer"}},
}


@requires("me")
async def read_users_me(request: web.Request) -> web.Response:
    """What the token says about its subject: the API has no user store of its own. The body depends on
    the token only, so it is serialised once per token (kept with the cached principal)."""
    principal = request[PRINCIPAL]
    body = principal.memo.get("users/me")
    if body is None:
        c = principal.claims
        doc = {"username": c["sub"], "client_id": c["client_id"], "scope": c.get("scope", "")}
        doc.update({k: c[k] for k in ("azp", "gty", "iss", "exp") if k in c})
        body = principal.memo["users/me"] = json.dumps(doc).encode()
    return web.Response(body=body, content_type="application/json")


@requires("items")
async def read_own_items(request: web.Request) -> web.Response:
    owner = request[PRINCIPAL].claims["sub"]
    return web.json_response([{"item_id": i, "owner": owner} for i in ITEMS])


@requires()
async def read_status(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


ROUTES = {"/users/me": ("What the token says about you (scope me)", read_users_me, TOKEN_USER_SCHEMA),
          "/users/me/items": ("Your items (scope items)", read_own_items, docs.ITEMS_SCHEMA),
          "/status": ("Token check (any valid token)", read_status, docs.STATUS_SCHEMA)}
