"""A deliberately vulnerable password-grant token endpoint, like backend/backend2/backend3 (tests only)."""
from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from urllib.parse import parse_qsl

from aiohttp import web

from .vulnerable_authorize import raw_query
from .vulnerable_common import SCOPES, USERS



@dataclass(frozen=True)
class PasswordFlaws:
    no_throttle: bool = False
    enumeration: bool = False                 # unknown user and wrong password answered differently
    no_store_missing: bool = False
    duplicates_first_wins: bool = False
    get_accepted: bool = False
    wrong_password_401: bool = False          # a wrong password answered 401 invalid_client
    unknown_scope_granted: bool = False


PFLAWS = web.AppKey("pflaws", PasswordFlaws)
PSTATE = web.AppKey("pstate", dict)


async def password_token(request: web.Request) -> web.Response:
    flaws, st = request.app[PFLAWS], request.app[PSTATE]
    h = {} if flaws.no_store_missing else {"Cache-Control": "no-store", "Pragma": "no-cache"}

    def err(error: str, status: int = 400, desc: str = "The grant or credentials are invalid.", extra=None):
        return web.json_response({"error": error, "error_description": desc}, status=status, headers={**h, **(extra or {})})

    if request.method == "GET" and not flaws.get_accepted:
        return err("invalid_request", 405, "Method not allowed", {"Allow": "POST"})
    raw = raw_query(request) if request.method == "GET" else (await request.read()).decode()
    params: dict[str, str] = {}
    for k, v in parse_qsl(raw, keep_blank_values=True):
        if k in params:
            if flaws.duplicates_first_wins:
                continue
            return err("invalid_request", desc="repeated parameter")
        params[k] = v
    params = {k: v for k, v in params.items() if v}
    if "grant_type" not in params:
        return err("invalid_request", desc="missing grant_type")
    if params["grant_type"] != "password":
        return err("unsupported_grant_type", desc="unsupported grant type")
    user, password = params.get("username", ""), params.get("password", "")
    now = time.time()
    fails = [t for t in st["fails"] if t > now - 300]
    st["fails"] = fails
    if len(fails) >= 5 and not flaws.no_throttle:
        return err("too_many_requests", 429, "Too many failed attempts", {"Retry-After": "300"})
    if user not in USERS:
        st["fails"].append(now)
        if flaws.enumeration:
            return err("invalid_grant", desc="Unknown user")
        return err("invalid_grant")
    if not secrets.compare_digest(USERS[user], password):
        st["fails"].append(now)
        if flaws.wrong_password_401:
            return err("invalid_client", 401, extra={"WWW-Authenticate": "Basic"})
        return err("invalid_grant")
    scope = params.get("scope", "").split()
    if not set(scope) <= set(SCOPES) and not flaws.unknown_scope_granted:
        return err("invalid_scope", desc="unknown scope")
    return web.json_response({"access_token": secrets.token_urlsafe(32), "token_type": "bearer", "expires_in": 1800,
                              "scope": " ".join(scope)}, headers=h)


def create_password_server(flaws: PasswordFlaws = PasswordFlaws()) -> web.Application:
    app = web.Application()
    app[PFLAWS] = flaws
    app[PSTATE] = {"fails": []}
    app.router.add_route("*", "/token", password_token)
    return app
