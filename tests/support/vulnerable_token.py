"""The vulnerable authorization server's token and revocation endpoints (tests only)."""
from __future__ import annotations

import asyncio
import base64
import secrets
import time
from urllib.parse import parse_qsl

from aiohttp import web

from .vulnerable_authorize import raw_query
from .vulnerable_common import (CLIENTS, FLAWS, SCOPES, STATE, USERS, VERIFIER_RE, Flaws, OAuthFail, error_json, s256,
                                token_json)



def _token_params(request: web.Request, raw: str, flaws: Flaws) -> dict[str, str]:
    out: dict[str, str] = {}
    for k, v in parse_qsl(raw, keep_blank_values=True):
        if k in out:
            if flaws.token_duplicates_first_wins:
                continue
            raise OAuthFail("invalid_request")
        out[k] = v
    return {k: v for k, v in out.items() if v != ""}


def _authenticate(request: web.Request, params: dict, flaws: Flaws) -> tuple[str, bool]:
    """(client_id, authenticated). RFC 6749 §2.3: one method only; Basic failures are 401 + challenge."""
    header = request.headers.get("Authorization", "")
    challenge = {} if flaws.basic_no_challenge else {"WWW-Authenticate": 'Basic realm="vulnerable"'}
    if header.startswith("Basic "):
        if "client_secret" in params:
            raise OAuthFail("invalid_request")
        try:
            cid, _, secret = base64.b64decode(header[6:]).decode().partition(":")
        except ValueError:
            raise OAuthFail("invalid_client", 401, headers=challenge) from None
        client = CLIENTS.get(cid)
        if client is None or client["public"] or not secrets.compare_digest(client["secret"], secret):
            raise OAuthFail("invalid_client", 401, headers=challenge)
        if "client_id" in params and params["client_id"] != cid:
            raise OAuthFail("invalid_client", 401, headers=challenge)
        return cid, True
    cid = params.get("client_id", "")
    client = CLIENTS.get(cid)
    if client is None:
        raise OAuthFail("invalid_client", 401, headers=challenge)
    if client["public"]:
        return cid, False
    secret = params.get("client_secret")
    if secret is None:
        if flaws.client_auth_optional:
            return cid, True
        raise OAuthFail("invalid_client", 401, headers=challenge)
    if not secrets.compare_digest(client["secret"], secret):
        raise OAuthFail("invalid_client", 401, headers=challenge)
    return cid, True


def _issue(request: web.Request, client_id: str, user: str | None, scope: list[str], *, refresh: bool,
           family: str | None = None) -> dict:
    st, flaws = request.app[STATE], request.app[FLAWS]
    at = secrets.token_urlsafe(32)
    st["access"][at] = {"client_id": client_id, "family": family}
    body = {"access_token": at, "token_type": "Bearer", "scope": " ".join(scope)}
    if not flaws.no_expires_in:
        body["expires_in"] = 300
    if refresh:
        rt = secrets.token_urlsafe(32) + (" é" if flaws.rt_bad_chars else "")
        st["refresh"][rt] = {"client_id": client_id, "user": user, "scope": scope, "family": family,
                             "used": False}
        body["refresh_token"] = rt
        if flaws.rt_accepts_access_token:
            st["refresh"][at] = dict(st["refresh"][rt])
    return body


async def token(request: web.Request) -> web.Response:
    flaws = request.app[FLAWS]
    try:
        if request.method == "GET":
            if not flaws.token_get:
                raise OAuthFail("invalid_request", 405, headers={"Allow": "POST"})
            raw = raw_query(request)
        else:
            if request.content_type != "application/x-www-form-urlencoded":
                raise OAuthFail("invalid_request")
            raw = (await request.read()).decode()
        params = _token_params(request, raw, flaws)
        grant = params.get("grant_type")
        if grant is None:
            raise OAuthFail("invalid_request")
        if grant not in ("authorization_code", "refresh_token", "client_credentials", "password"):
            raise OAuthFail("invalid_request" if flaws.unsupported_grant_as_invalid_request else "unsupported_grant_type")
        if grant == "password" and not flaws.password_grant:
            raise OAuthFail("unsupported_grant_type")
        client_id, authenticated = _authenticate(request, params, flaws)
        client = CLIENTS[client_id]
        if grant == "client_credentials":
            if client["public"] and not flaws.cc_public_allowed:
                raise OAuthFail("unauthorized_client")
        elif grant not in client["grants"] and not (grant == "password" and flaws.password_grant) \
                and not (grant == "authorization_code" and flaws.code_not_client_bound) \
                and not (grant == "refresh_token" and flaws.rt_not_client_bound):  # no per-client grants
            raise OAuthFail("unauthorized_client")
        handler = {"authorization_code": _code_grant, "refresh_token": _refresh_grant,
                   "client_credentials": _cc_grant, "password": _password_grant}[grant]
        return token_json(request, await handler(request, params, client_id))
    except OAuthFail as exc:
        return error_json(request, exc)


async def _code_grant(request: web.Request, params: dict, client_id: str) -> dict:
    flaws, st = request.app[FLAWS], request.app[STATE]
    code = params.get("code")
    if code is None:
        if flaws.garbage_code_500:
            raise RuntimeError("no code")
        raise OAuthFail("invalid_request")
    forgotten = flaws.used_codes_forgotten and time.time() > st["used_until"].get(code, 0)
    if code in st["used_codes"] and not flaws.code_replay and not forgotten:
        if not flaws.code_reuse_no_revoke:
            family = st["used_codes"][code]
            st["revoked_families"].add(family)
        raise OAuthFail("invalid_grant")
    if flaws.code_race:
        record = st["codes"].get(code)
        await asyncio.sleep(0.05)
        st["codes"].pop(code, None)
    elif flaws.code_replay or flaws.used_codes_forgotten:
        record = st["codes"].get(code)
    else:
        record = st["codes"].pop(code, None)
    if record is None or record["exp"] < time.time():
        raise OAuthFail("invalid_grant")
    family = secrets.token_hex(8)
    if not flaws.code_replay:
        st["used_codes"][code] = family
        st["used_until"][code] = time.time() + st["code_ttl"] / 4
    if record["client_id"] != client_id and not flaws.code_not_client_bound:
        raise OAuthFail("invalid_grant")
    sent = params.get("redirect_uri")
    if sent is None:
        if not flaws.token_redirect_optional:
            raise OAuthFail("invalid_request")
    elif sent != record["redirect_uri"] and not flaws.token_redirect_unchecked:
        raise OAuthFail("invalid_grant")
    verifier = params.get("code_verifier")
    if record["challenge"] is not None or verifier is not None:
        if not flaws.verifier_ignored:
            if verifier is None:
                if not flaws.verifier_optional:
                    raise OAuthFail("invalid_grant")
            elif record["challenge"] is None:
                if not flaws.pkce_optional:                 # optional PKCE: no challenge, nothing checked
                    raise OAuthFail("invalid_grant")       # RFC 9700 §4.8.2: downgrade
            else:
                if not flaws.verifier_format_unchecked and not VERIFIER_RE.match(verifier):
                    raise OAuthFail("invalid_grant")
                computed = verifier if record["method"] == "plain" else s256(verifier)
                if not secrets.compare_digest(computed.encode(), record["challenge"].encode()):
                    raise OAuthFail("invalid_grant")
    return _issue(request, client_id, record["user"], record["scope"], refresh=True, family=family)


async def _refresh_grant(request: web.Request, params: dict, client_id: str) -> dict:
    flaws, st = request.app[FLAWS], request.app[STATE]
    rt = params.get("refresh_token")
    if rt is None:
        raise OAuthFail("invalid_request")
    record = st["refresh"].get(rt)
    if record is None or record["family"] in st["revoked_families"] or record.get("revoked"):
        raise OAuthFail("invalid_grant")
    if record["client_id"] != client_id and not flaws.rt_not_client_bound:
        raise OAuthFail("invalid_grant")
    if record["used"] and not flaws.rt_reuse_undetected:
        if not flaws.rt_family_not_revoked:
            st["revoked_families"].add(record["family"])
        raise OAuthFail("invalid_grant")
    scope = params.get("scope", " ".join(record["scope"])).split()
    if not set(scope) <= set(record["scope"]) and not flaws.rt_scope_escalation:
        raise OAuthFail("invalid_scope")
    if flaws.rt_not_rotated:
        body = _issue(request, client_id, record["user"], scope, refresh=False, family=record["family"])
        return body
    record["used"] = True
    body = _issue(request, client_id, record["user"], record["scope"], refresh=True, family=record["family"])
    st["access"][body["access_token"]]["scope"] = scope
    body["scope"] = " ".join(scope)
    return body


async def _cc_grant(request: web.Request, params: dict, client_id: str) -> dict:
    flaws = request.app[FLAWS]
    scope = params.get("scope", " ".join(SCOPES)).split()
    if not set(scope) <= set(CLIENTS[client_id]["scopes"]) and not flaws.scope_unchecked:
        raise OAuthFail("invalid_scope")
    return _issue(request, client_id, None, scope, refresh=flaws.cc_refresh_token)


async def _password_grant(request: web.Request, params: dict, client_id: str) -> dict:
    user, password = params.get("username", ""), params.get("password", "")
    if not secrets.compare_digest(USERS.get(user, "\0"), password):
        raise OAuthFail("invalid_grant")
    return _issue(request, client_id, user, list(SCOPES), refresh=False)


async def revoke(request: web.Request) -> web.Response:
    st = request.app[STATE]
    params = dict(parse_qsl((await request.read()).decode()))
    record = st["refresh"].get(params.get("token", ""))
    if record is not None:
        record["revoked"] = True
    return web.Response(status=200)
