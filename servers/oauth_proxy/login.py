"""The login page of the authorization endpoint (GET and POST /login).

A parked authorization request (authorize.py) sends the browser here. The form carries a CSRF token that
must match both the parked request and a cookie (RFC 6749 §10.12); failed logins are throttled like the
token endpoint's (RFC 6749 §10.10); a successful login answers 303 See Other (RFC 9700 §4.12: never 307,
which would re-post the password to the client) with the code, and opens a login session.
"""
from __future__ import annotations

import logging
import secrets
import time

from aiohttp import web

from servers.common.app import PASSWORDS, THROTTLE
from servers.common.errors import TooManyRequests
from servers.common.forms import read_form

from .authorize import SESSION_COOKIE, SESSION_TTL, code_redirect, granted_scope
from .context import PROXY
from .issuer import digest
from .pages import CSRF_COOKIE, expired_page, login_form, page

log = logging.getLogger("oauthlab.oauth_proxy")
routes = web.RouteTableDef()
# The fields of the login form; any other is ignored, also when repeated (RFC 6749 §3.1).
LOGIN_PARAMS = frozenset({"request", "csrf_token", "username", "password"})


def csrf_matches(form: dict[str, str], cookie: str, pending: dict) -> bool:
    """RFC 6749 §10.12: "The authorization server MUST implement CSRF protection for its authorization
    endpoint": the form's token must equal, in constant time, both the one parked with the authorization
    request and the HttpOnly cookie set with the form."""
    sent, expected = form.get("csrf_token", ""), pending["csrf"].encode()
    return secrets.compare_digest(sent.encode(), expected) and secrets.compare_digest(cookie.encode(), expected)


@routes.get("/login")
async def login_page(request: web.Request) -> web.Response:
    """The login form of a parked authorization request (unknown or expired: a page saying so)."""
    proxy = request.app[PROXY]
    request_id = request.query.get("request", "")
    pending = await proxy.tokens.store.get("authz-request", request_id) if request_id else None
    if pending is None:
        return expired_page()
    return login_form(proxy, request_id, pending, pending["csrf"])


@routes.post("/login")
async def login_submit(request: web.Request) -> web.Response:
    """The submitted login form: CSRF checked, throttled (RFC 6749 §10.10), credentials checked; success
    consumes the parked request and answers 303 with the code (RFC 9700 §4.12)."""
    proxy = request.app[PROXY]
    form = await read_form(request, LOGIN_PARAMS)
    request_id = form.get("request", "")
    pending = await proxy.tokens.store.get("authz-request", request_id) if request_id else None
    if pending is None:
        return expired_page()
    if not csrf_matches(form, request.cookies.get(CSRF_COOKIE, ""), pending):
        log.info("login refused: CSRF token missing or wrong")
        return page("Sign-in refused", "<p>The sign-in form was not submitted from this site. Go back to "
                    "the application and start again.</p>", status=403)
    username, password = form.get("username", ""), form.get("password", "")
    address = request.remote or "unknown"
    try:
        await request.app[THROTTLE].check(username, address)
    except TooManyRequests as exc:
        resp = login_form(proxy, request_id, pending, pending["csrf"], "Too many failed attempts; try again "
                          f"in {exc.retry_after} s.", username, status=429)
        resp.headers["Retry-After"] = str(exc.retry_after)
        return resp
    user = await request.app[PASSWORDS].authenticate(username, password) if username and password else None
    if user is None:
        await request.app[THROTTLE].failed(username, address)
        return login_form(proxy, request_id, pending, pending["csrf"], "Wrong username or password.",
                          username, status=401)
    await request.app[THROTTLE].succeeded(username)
    pending = await proxy.tokens.store.consume("authz-request", request_id)
    if pending is None:  # the same form submitted twice at once
        return expired_page()
    sid = secrets.token_urlsafe(32)
    await proxy.tokens.store.put("session", digest(sid), {"sub": user.username, "auth_time": int(time.time())},
                                 ttl=SESSION_TTL)
    resp = await code_redirect(proxy, pending, user.username, granted_scope(pending["scope"], user), 303)
    resp.set_cookie(SESSION_COOKIE, sid, httponly=True, samesite="Lax", path="/", secure=proxy.secure_cookies,
                    max_age=SESSION_TTL)
    resp.del_cookie(CSRF_COOKIE, path="/login")
    return resp
