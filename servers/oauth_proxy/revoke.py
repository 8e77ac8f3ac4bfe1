"""Revocation (RFC 7009), introspection (RFC 7662) and the revocation list.

How revocation reaches resource servers, which verify our JWTs offline with the JWKS:
- ``POST /introspect`` (RFC 7662): a confidential client (e.g. ``m2m``, or a client registered for the
  resource server) asks about one token; revoked, expired or foreign tokens are ``{"active": false}``.
  Access tokens are reported active only to a client whose audiences include the token's ``aud`` or to
  the client the token was issued to (RFC 7662 §4: limit what a caller learns).
- ``GET /revocations``: the list of revoked access-token ``jti`` values with their ``exp`` (entries
  vanish when the token expires anyway). It holds no secret, so it is public; a resource server polls it
  (every few seconds) and refuses those jtis, keeping offline verification fast.
- Access tokens live ``access_token_ttl`` seconds; refresh tokens and whole grants are revoked at once.

``POST /revoke`` (RFC 7009 §2.1): the client authenticates; a refresh token revokes its whole grant (its
access tokens too: "SHOULD also invalidate all access tokens based on the same authorization grant"), an
access token is added to the list. Unknown tokens, and tokens of another client, get 200 with no effect
(§2.2: the response does not reveal whether the token existed).
"""
from __future__ import annotations

import hashlib
import json
import logging
import secrets

from aiohttp import web

from servers.common.errors import NO_STORE, InvalidClient, InvalidRequest, OAuthError
from servers.common.forms import CLIENT_AUTH, read_form
from servers.common.tokens import b64url_json

from .clients import Client
from .context import PROXY, Proxy
from .issuer import digest

log = logging.getLogger("oauthlab.oauth_proxy")
routes = web.RouteTableDef()
# RFC 7009 §2.1 and RFC 7662 §2.1: the token, its type hint and client authentication (RFC 6749 §2.3.1).
TOKEN_QUERY_PARAMS = CLIENT_AUTH | {"token", "token_type_hint"}


async def verified_access_token(proxy: Proxy, token: str) -> dict | None:
    """The claims of one of our access tokens (signature, issuer, typ, exp), or None."""
    try:
        aud = b64url_json(token.split(".")[1]).get("aud") if token.count(".") == 2 else None
    except (ValueError, UnicodeDecodeError, AttributeError, RecursionError):
        return None
    if not isinstance(aud, str):
        return None
    try:
        return await proxy.tokens.verifier(aud).verify(token)
    except OAuthError:
        return None


def same(a: str, b: str) -> bool:
    """Constant-time comparison of client ids (RFC 6749 §10.10: no oracle for guessing credentials)."""
    return secrets.compare_digest(a.encode(), b.encode())


@routes.post("/revoke")
async def revoke(request: web.Request) -> web.Response:
    """RFC 7009 §2.1: the client authenticates and may revoke only its own tokens; §2.2: 200 whether or not
    the token existed."""
    proxy = request.app[PROXY]
    params = await read_form(request, TOKEN_QUERY_PARAMS)
    client = await proxy.clients.authenticate(request, params)
    token = params.get("token")
    if token is None:
        raise InvalidRequest("missing token")
    record = await proxy.tokens.store.get("rt", digest(token))
    if record is not None:
        if same(record["client_id"], client.client_id):
            await proxy.tokens.revoke_family(record["family"], "refresh token revoked by its client")
        else:
            log.info("revoke: refresh token of another client ignored")
    else:
        claims = await verified_access_token(proxy, token)
        if claims is not None and same(claims["client_id"], client.client_id):
            await proxy.tokens.revoke_jti(claims["jti"], claims["exp"])
            log.info("revoked access token jti=%s…", claims["jti"][:8])
    return web.Response(status=200, headers=NO_STORE)


def may_introspect(client: Client, token_client: str, aud: str) -> bool:
    """RFC 7662 §4: the server "SHOULD" limit what a caller learns: only the token's own client, or a
    client whose audiences include the token's ``aud``."""
    return same(token_client, client.client_id) or aud in client.audiences


@routes.post("/introspect")
async def introspect(request: web.Request) -> web.Response:
    proxy = request.app[PROXY]
    params = await read_form(request, TOKEN_QUERY_PARAMS)
    client = await proxy.clients.authenticate(request, params)
    if not client.confidential:
        raise InvalidClient("introspection needs an authenticated confidential client")
    token = params.get("token")
    if token is None:
        raise InvalidRequest("missing token")
    inactive = web.json_response({"active": False}, headers=NO_STORE)
    claims = await verified_access_token(proxy, token)
    if claims is not None:
        if await proxy.tokens.is_revoked(claims["jti"]) or not may_introspect(client, claims["client_id"],
                                                                                claims["aud"]):
            return inactive
        body = {"active": True, "token_type": "Bearer", **{k: claims[k] for k in (
            "scope", "client_id", "sub", "aud", "iss", "exp", "iat", "jti", "gty") if k in claims}}
        body["username"] = claims["sub"] if claims.get("gty") != "client-credentials" else None
        return web.json_response({k: v for k, v in body.items() if v is not None}, headers=NO_STORE)
    record = await proxy.tokens.store.get("rt", digest(token))
    if record is not None and may_introspect(client, record["client_id"], record["aud"]):
        if await proxy.tokens.store.get("family-revoked", record["family"]) is None:
            return web.json_response({"active": True, "token_type": "refresh_token",
                                      "scope": " ".join(record["scope"]), "client_id": record["client_id"],
                                      "sub": record["sub"], "username": record["sub"], "aud": record["aud"],
                                      "iss": proxy.issuer, "exp": int(record["expires"])}, headers=NO_STORE)
    return inactive


@routes.get("/revocations")
async def revocations(request: web.Request) -> web.Response:
    """The revocation list, with an ETag: a resource server polling with If-None-Match gets 304 while
    nothing changed (RFC 9110 §13.1.2), so polling every few seconds costs next to nothing."""
    proxy = request.app[PROXY]
    body = json.dumps({"issuer": proxy.issuer, "revoked": await proxy.tokens.revoked_list()}).encode()
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    headers = {**NO_STORE, "ETag": etag}
    if etag in (t.strip() for t in request.headers.get("If-None-Match", "").split(",")):
        return web.Response(status=304, headers=headers)
    return web.Response(body=body, content_type="application/json", headers=headers)
