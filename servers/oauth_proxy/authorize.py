"""The authorization endpoint (RFC 6749 §4.1.1, §4.1.2).

GET (or POST) /authorize runs its checks in order. The first three decide whether the client and its
redirect URI can be trusted; their failures are shown as an error page and NEVER redirected (§4.1.2.1,
§10.6, RFC 9700 §4.1). The rest redirect back with ``error``, ``state`` and ``iss`` (RFC 9207).

A logged-in browser (session cookie) gets its code at once (first-party clients, no consent screen);
otherwise the request is parked server-side and the browser goes to /login (login.py). The checks are in
checks.py, the HTML pages in pages.py.
"""
from __future__ import annotations

import inspect
import logging
import secrets
import time

from aiohttp import web

from servers.common.app import STORE
from servers.common.errors import InvalidRequest, OAuthError
from servers.common.forms import form_text, parse_pairs

from .checks import AUTHORIZE_PARAMS, PAGE_CHECKS, REDIRECT_CHECKS, AuthzRequest
from .context import PROXY, Proxy, with_query
from .issuer import digest
from .pages import PENDING_TTL, PageError, error_page

log = logging.getLogger("oauthlab.oauth_proxy")
routes = web.RouteTableDef()

SESSION_COOKIE = "oauthlab_session"
SESSION_TTL = 3600


def authorization_params(text: str, where: str = "query string") -> tuple[dict[str, str], set[str]]:
    """The request's parameters and the defined ones that were repeated (servers/common/forms.py): a query
    string is read leniently, a form body strictly."""
    try:
        return parse_pairs(text, AUTHORIZE_PARAMS, where=where, strict=where == "body")
    except InvalidRequest as err:
        raise PageError("invalid_request", err.reason) from None


def redirect(uri: str, status: int = 302, headers: dict[str, str] | None = None) -> web.Response:
    h = {"Location": uri, "Cache-Control": "no-store", "Pragma": "no-cache", "Referrer-Policy": "no-referrer"}
    h.update(headers or {})
    return web.Response(status=status, headers=h)


def error_redirect(proxy: Proxy, redirect_uri: str, err: OAuthError, state: str | None,
                   status: int = 302) -> web.Response:
    """RFC 6749 §4.1.2.1: error and state back to the (verified) redirect URI, plus iss (RFC 9207)."""
    log.info("authorization error -> client: %s: %s", err.error, err.reason)
    params = {"error": err.error, "error_description": err.description}
    if state is not None:
        params["state"] = state
    params["iss"] = proxy.issuer
    return redirect(with_query(redirect_uri, params), status)


async def code_redirect(proxy: Proxy, pending: dict, username: str, granted: tuple[str, ...],
                        status: int, headers: dict[str, str] | None = None) -> web.Response:
    code = await proxy.tokens.new_code({
        "client_id": pending["client_id"], "redirect_uri": pending["redirect_uri"],
        "challenge": pending["challenge"], "sub": username, "scope": list(granted),
        "aud": pending["aud"], "auth_time": int(time.time())})
    params = {"code": code}
    if pending.get("state") is not None:
        params["state"] = pending["state"]
    params["iss"] = proxy.issuer
    return redirect(with_query(pending["redirect_uri"], params), status, headers)


async def session_user(request: web.Request):
    """The enabled user of a valid login session, or None."""
    sid = request.cookies.get(SESSION_COOKIE)
    if not sid or len(sid) > 100:
        return None
    record = await request.app[PROXY].tokens.store.get("session", digest(sid))
    if record is None:
        return None
    user = await request.app[STORE].get_user(record["sub"])
    return user if user is not None and not user.disabled else None


def granted_scope(requested: list[str] | tuple[str, ...], user) -> tuple[str, ...]:
    """What the user may delegate: the requested scope within the user's allowed scopes (RFC 6749 §3.3)."""
    return tuple(s for s in requested if s in user.scopes)


@routes.get("/authorize")
@routes.post("/authorize")
async def authorize(request: web.Request) -> web.Response:
    """RFC 6749 §4.1.1: run the checks in order; answer with an error page, an error redirect, a code for a
    logged-in browser, or a redirect to the login page."""
    proxy = request.app[PROXY]
    try:
        if request.method == "POST":
            params, repeated = authorization_params(await form_text(request), "body")
        else:
            params, repeated = authorization_params(request.rel_url.raw_query_string)
        req = AuthzRequest(params, repeated)
        for check in PAGE_CHECKS:
            result = check(req, proxy)
            if inspect.isawaitable(result):
                await result
    except PageError as err:
        return error_page(err)
    except InvalidRequest as err:
        return error_page(PageError("invalid_request", err.reason))
    try:
        for check in REDIRECT_CHECKS:
            check(req, proxy)
    except OAuthError as err:
        return error_redirect(proxy, req.redirect_uri, err, req.state if "state" not in repeated else None)
    assert req.client is not None
    pending = {"client_id": req.client.client_id, "redirect_uri": req.redirect_uri, "state": req.state,
               "challenge": params["code_challenge"], "scope": list(req.scope), "aud": req.audience}
    prompt = params.get("prompt", "")
    user = None if "login" in prompt.split() else await session_user(request)
    if user is not None:
        return await code_redirect(proxy, pending, user.username, granted_scope(req.scope, user), 302)
    if "none" in prompt.split():
        err = OAuthError("no login session and prompt=none")
        err.error = "login_required"  # type: ignore[misc]
        return error_redirect(proxy, req.redirect_uri, err, req.state)
    request_id = secrets.token_urlsafe(32)
    await proxy.tokens.store.put("authz-request", request_id,
                                 {**pending, "csrf": secrets.token_urlsafe(32)}, ttl=PENDING_TTL)
    return redirect(proxy.url(f"/login?request={request_id}"), 302)


