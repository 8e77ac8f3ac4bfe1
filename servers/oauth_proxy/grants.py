"""The token endpoint (RFC 6749 §3.2, §4.1.3, §4.4, §6; RFC 7636 §4.5-4.6; RFC 8693 in exchange.py).

POST only, form-encoded, no defined parameter repeated and unrecognized ones ignored (``read_form``); the client authenticates with exactly one
method (clients.py); the grant type must be supported (``unsupported_grant_type``) and allowed for this
client (``unauthorized_client``). Errors follow RFC 6749 §5.2; every response carries
``Cache-Control: no-store`` (success and error alike).

Grants and their ``gty`` claim: authorization_code -> ``authorization-code``, refresh_token ->
``refresh-token``, client_credentials -> ``client-credentials``, token exchange -> ``token-exchange``.
"""
from __future__ import annotations

import json
import secrets
from collections.abc import Awaitable, Callable

from aiohttp import web

from servers.common import pkce
from servers.common.app import STORE
from servers.common.errors import NO_STORE, InvalidGrant, InvalidRequest, UnauthorizedClient, UnsupportedGrantType
from servers.common.forms import CLIENT_AUTH, read_form
from servers.common.scopes import parse_scope

from .audience import pick_audience, pick_scope
from .clients import CLIENT_CREDENTIALS, CODE, REFRESH, TOKEN_EXCHANGE, Client
from .context import PROXY, InvalidTarget, Proxy
from .exchange import exchange

routes = web.RouteTableDef()
# What the grants read (RFC 6749 §4.1.3, §4.4.2, §6; RFC 7636 §4.5; RFC 8707 §2; RFC 8693 §2.1); the
# rest is ignored, also when repeated (RFC 6749 §3.1).
TOKEN_PARAMS = CLIENT_AUTH | {
    "grant_type", "code", "redirect_uri", "code_verifier", "refresh_token", "scope", "resource", "audience",
    "subject_token", "subject_token_type", "actor_token", "actor_token_type", "requested_token_type"}
Grant = Callable[[web.Request, dict, Client, Proxy], Awaitable[dict]]
# RFC 6749 §5.1: a JSON body with "Cache-Control: no-store" and "Pragma: no-cache"; the headers of every
# token response, built once.
TOKEN_HEADERS = {"Content-Type": "application/json; charset=utf-8", **NO_STORE, "X-Content-Type-Options": "nosniff"}


def token_response(body: dict) -> web.Response:
    """The token response of RFC 6749 §5.1 (the same bytes and headers as ``web.json_response``)."""
    return web.Response(body=json.dumps(body).encode(), headers=TOKEN_HEADERS)


async def active_username(request: web.Request, username: str) -> str:
    """RFC 6749 §5.2 ``invalid_grant`` (the grant "is invalid, expired, revoked"): the user of a grant must
    still exist and be enabled (a disabled account gets no new tokens)."""
    user = await request.app[STORE].get_user(username)
    if user is None or user.disabled:
        raise InvalidGrant("the grant's user is unknown or disabled")
    return user.username


def check_verifier(verifier: str | None, challenge: str) -> None:
    """RFC 7636 §4.6 / RFC 9700 §2.1.1: the code_verifier must be present and match the challenge."""
    if verifier is None:
        raise InvalidGrant("code_verifier missing")
    if not pkce.verify(verifier, challenge):
        raise InvalidGrant("code_verifier does not match the code_challenge")


def same(a: str, b: str) -> bool:
    """Constant-time comparison of bound values (RFC 6749 §10.10: no oracle for guessing credentials)."""
    return secrets.compare_digest(a.encode(), b.encode())


async def authorization_code(request: web.Request, params: dict, client: Client, proxy: Proxy) -> dict:
    """RFC 6749 §4.1.3: the code is bound to its client, redirect_uri, PKCE challenge, user and scope."""
    code, verifier, redirect_uri = params.get("code"), params.get("code_verifier"), params.get("redirect_uri")
    if code is None:
        raise InvalidRequest("missing code")
    if redirect_uri is None:
        raise InvalidRequest("missing redirect_uri (it was sent in the authorization request)")
    if verifier is not None and not pkce.is_valid_verifier(verifier):
        raise InvalidRequest("code_verifier does not match RFC 7636 §4.1 syntax")
    record = await proxy.tokens.take_code(code)  # atomic; a replay revokes what the first use issued
    if not same(record["client_id"], client.client_id):
        raise InvalidGrant("code issued to another client")
    if not same(record["redirect_uri"], redirect_uri):
        raise InvalidGrant("redirect_uri differs from the authorization request")
    check_verifier(verifier, record["challenge"])
    if "resource" in params and params["resource"] != record["aud"]:
        raise InvalidTarget("resource differs from the authorization request")
    sub = await active_username(request, record["sub"])
    return await proxy.tokens.issue(sub=sub, aud=record["aud"], client_id=client.client_id,
                                    scope=tuple(record["scope"]), gty="authorization-code",
                                    family=record["family"], refresh=REFRESH in client.grant_types)


async def refresh_token(request: web.Request, params: dict, client: Client, proxy: Proxy) -> dict:
    """RFC 6749 §6 with rotation on every use and reuse detection (RFC 9700 §4.14.2)."""
    rt = params.get("refresh_token")
    if rt is None:
        raise InvalidRequest("missing refresh_token")
    requested = parse_scope(params.get("scope"))
    record = await proxy.tokens.rotate(rt, client.client_id, requested)
    sub = await active_username(request, record["sub"])
    return await proxy.tokens.issue(sub=sub, aud=record["aud"], client_id=client.client_id,
                                    scope=requested or tuple(record["scope"]), gty="refresh-token",
                                    family=record["family"], refresh=True, family_expires=record["expires"],
                                    refresh_scope=tuple(record["scope"]))


async def client_credentials(request: web.Request, params: dict, client: Client, proxy: Proxy) -> dict:
    """RFC 6749 §4.4: confidential clients only; sub = client_id (RFC 9068 §2.2); no refresh token."""
    if not client.confidential:
        raise UnauthorizedClient("client_credentials needs a confidential client")
    if await request.app[STORE].get_user(client.client_id) is not None:
        # RFC 9700 §4.15.1: sub = client_id must never be mistaken for the user of that name.
        raise UnauthorizedClient(f"client_id {client.client_id!r} collides with a username")
    scope = pick_scope(params, client.scopes)
    aud = pick_audience(params, client)
    return await proxy.tokens.issue(sub=client.client_id, aud=aud, client_id=client.client_id, scope=scope,
                                    gty="client-credentials")


GRANTS: dict[str, Grant] = {CODE: authorization_code, REFRESH: refresh_token,
                            CLIENT_CREDENTIALS: client_credentials, TOKEN_EXCHANGE: exchange}


@routes.post("/token")
async def token_endpoint(request: web.Request) -> web.Response:
    proxy = request.app[PROXY]
    params = await read_form(request, TOKEN_PARAMS)
    grant_type = params.get("grant_type")
    if grant_type is None:
        raise InvalidRequest("missing grant_type")
    grant = GRANTS.get(grant_type)
    if grant is None:
        raise UnsupportedGrantType(f"grant_type {grant_type[:60]!r}")
    client = await proxy.clients.authenticate(request, params)
    if grant_type not in client.grant_types:
        raise UnauthorizedClient(f"{client.client_id} may not use {grant_type}")
    return token_response(await grant(request, params, client, proxy))
