"""The authorization endpoint (RFC 6749 §4.1.1, §4.1.2) and the login page.

GET (or POST) /authorize runs its checks in order. The first three decide whether the client and its
redirect URI can be trusted; their failures are shown as an error page and NEVER redirected (§4.1.2.1,
§10.6, RFC 9700 §4.1). The rest redirect back with ``error``, ``state`` and ``iss`` (RFC 9207).

A logged-in browser (session cookie) gets its code at once (first-party clients, no consent screen);
otherwise the request is parked server-side and the browser goes to /login. The login form carries a CSRF
token that must match both the parked request and a cookie (RFC 6749 §10.12); a successful login answers
303 See Other (RFC 9700 §4.12: never 307, which would re-post the password to the client).

Every HTML page carries CSP (``frame-ancestors 'none'``; RFC 9700 §4.16 clickjacking),
``X-Frame-Options: DENY``, ``X-Content-Type-Options: nosniff``, ``Referrer-Policy: no-referrer`` and
``Cache-Control: no-store``.
"""
from __future__ import annotations

import base64
import hashlib
import html
import inspect
import logging
import secrets
import time
from typing import Callable
from urllib.parse import parse_qsl, urlencode

from aiohttp import web

from servers.common import pkce
from servers.common.app import PASSWORDS, STORE, THROTTLE
from servers.common.errors import (InvalidRequest, InvalidScope, OAuthError, TooManyRequests,
                                   UnsupportedResponseType)
from servers.common.forms import read_form
from servers.common.scopes import parse_scope

from .clients import CODE, Client, origin_of
from .context import PROXY, InvalidTarget, Proxy, with_query
from .issuer import digest

log = logging.getLogger("oauthlab.oauth_proxy")
routes = web.RouteTableDef()

SESSION_COOKIE = "oauthlab_session"
CSRF_COOKIE = "oauthlab_login_csrf"
SESSION_TTL = 3600
PENDING_TTL = 600
MAX_STATE = 4096

STYLE = ("body{font-family:system-ui,sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem}"
         "label{display:block;margin:.6rem 0}input{width:100%;padding:.4rem;box-sizing:border-box}"
         "button{margin-top:1rem;padding:.5rem 1.2rem}.error{color:#a00}.muted{color:#555}")
STYLE_HASH = base64.b64encode(hashlib.sha256(STYLE.encode()).digest()).decode()


class PageError(Exception):
    """An error shown on the proxy's own page (never redirected to an unverified redirect_uri)."""

    def __init__(self, error: str, reason: str, status: int = 400) -> None:
        super().__init__(reason)
        self.error, self.reason, self.status = error, reason, status


def html_headers(form_targets: tuple[str, ...] = ()) -> dict[str, str]:
    form_action = " ".join(("'self'", *form_targets))
    return {"Content-Security-Policy": f"default-src 'none'; style-src 'sha256-{STYLE_HASH}'; "
                                       f"form-action {form_action}; frame-ancestors 'none'; base-uri 'none'",
            "X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer", "Cache-Control": "no-store", "Pragma": "no-cache"}


def page(title: str, body: str, status: int = 200, form_targets: tuple[str, ...] = ()) -> web.Response:
    text = (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            f'<meta name="viewport" content="width=device-width"><style>{STYLE}</style></head>'
            f"<body><h1>{html.escape(title)}</h1>{body}</body></html>")
    return web.Response(text=text, status=status, content_type="text/html",
                        headers=html_headers(form_targets))


def error_page(err: PageError) -> web.Response:
    log.info("authorization error page: %s: %s", err.error, err.reason)
    return page("Authorization error",
                f'<p class="error">{html.escape(err.error)}</p><p>The application sent an invalid '
                f"authorization request, so you are not sent back to it. Close this page and start again "
                f"from the application.</p>", status=err.status)


# -- the checks, in order -------------------------------------------------------------------------------
class AuthzRequest:
    """The parameters of one authorization request and what the checks established."""

    def __init__(self, params: dict[str, str], repeated: set[str]) -> None:
        self.params, self.repeated = params, repeated
        self.client: Client | None = None
        self.redirect_uri = ""
        self.scope: tuple[str, ...] = ()
        self.audience = ""

    @property
    def state(self) -> str | None:
        return self.params.get("state")


def reject_repeated_identity_params(req: AuthzRequest, proxy: Proxy) -> None:
    """RFC 6749 §3.1: parameters MUST NOT be repeated; an ambiguous client or redirect is never redirected."""
    if req.repeated & {"client_id", "redirect_uri"}:
        raise PageError("invalid_request", f"repeated {sorted(req.repeated)}")


async def check_client(req: AuthzRequest, proxy: Proxy) -> None:
    """The client_id must be registered and allowed to use the code flow."""
    client = await proxy.clients.get(req.params.get("client_id", ""))
    if client is None or CODE not in client.grant_types:
        raise PageError("invalid_client", f"unknown client {req.params.get('client_id', '')[:40]!r}")
    req.client = client


def check_redirect_uri(req: AuthzRequest, proxy: Proxy) -> None:
    """RFC 9700 §4.1.3: the redirect_uri is required and equal, character for character, to a registered one."""
    sent = req.params.get("redirect_uri")
    assert req.client is not None
    if sent is None or not any(secrets.compare_digest(sent.encode(), r.encode())
                               for r in req.client.redirect_uris):
        raise PageError("invalid_request", f"redirect_uri {str(sent)[:80]!r} is not registered")
    req.redirect_uri = sent


def reject_repeated_params(req: AuthzRequest, proxy: Proxy) -> None:
    """RFC 6749 §3.1: "Request and response parameters MUST NOT be included more than once"."""
    if req.repeated:
        raise InvalidRequest(f"repeated parameter(s) {sorted(req.repeated)}")


def check_response_type(req: AuthzRequest, proxy: Proxy) -> None:
    """Only response_type=code (RFC 9700 §2.1.2: no implicit grant)."""
    rt = req.params.get("response_type")
    if rt is None:
        raise InvalidRequest("missing response_type")
    if rt != "code":
        raise UnsupportedResponseType(f"response_type {rt[:40]!r}")


def check_state(req: AuthzRequest, proxy: Proxy) -> None:
    """state is optional and echoed byte for byte; an absurdly long one is refused."""
    if req.state is not None and len(req.state) > MAX_STATE:
        raise InvalidRequest("state too long")


def check_pkce(req: AuthzRequest, proxy: Proxy) -> None:
    """RFC 7636 §4.4.1 + RFC 9700 §2.1.1: code_challenge required, method S256 only (plain/absent refused)."""
    challenge, method = req.params.get("code_challenge"), req.params.get("code_challenge_method")
    if challenge is None:
        raise InvalidRequest("code challenge required (PKCE, S256)", description="code_challenge required")
    if method != pkce.METHOD:
        raise InvalidRequest(f"code_challenge_method {str(method)[:20]!r}",
                             description="transform algorithm not supported: use S256")
    if not pkce.is_valid_challenge(challenge):
        raise InvalidRequest("malformed code_challenge", description="malformed code_challenge")


def check_scope(req: AuthzRequest, proxy: Proxy) -> None:
    """RFC 6749 §3.3: the requested scope must lie within the client's; empty means the client's own."""
    assert req.client is not None
    requested = parse_scope(req.params.get("scope"))
    beyond = [s for s in requested if s not in req.client.scopes]
    if beyond:
        raise InvalidScope(f"scope(s) {beyond} not allowed for {req.client.client_id}")
    req.scope = requested or req.client.scopes


def check_resource(req: AuthzRequest, proxy: Proxy) -> None:
    """RFC 8707: an explicit resource must be one of the client's audiences; default: the first."""
    assert req.client is not None
    resource = req.params.get("resource")
    if resource is None:
        if not req.client.default_audience:
            raise InvalidTarget("client has no default audience")
        req.audience = req.client.default_audience
    elif resource in req.client.audiences:
        req.audience = resource
    else:
        raise InvalidTarget(f"resource {resource[:80]!r} not allowed")


PAGE_CHECKS: tuple[Callable, ...] = (reject_repeated_identity_params, check_client, check_redirect_uri)
REDIRECT_CHECKS: tuple[Callable, ...] = (reject_repeated_params, check_response_type, check_state,
                                          check_pkce, check_scope, check_resource)


def authorization_params(query: str) -> tuple[dict[str, str], set[str]]:
    try:
        pairs = parse_qsl(query, keep_blank_values=True, errors="strict", max_num_fields=100)
    except (ValueError, UnicodeDecodeError):
        raise PageError("invalid_request", "malformed query string") from None
    params: dict[str, str] = {}
    repeated: set[str] = set()
    for k, v in pairs:
        if k in params:
            repeated.add(k)
        else:
            params[k] = v
    return {k: v for k, v in params.items() if v != ""}, repeated


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
    proxy = request.app[PROXY]
    try:
        query = request.rel_url.raw_query_string
        if request.method == "POST":
            query = urlencode(await read_form(request))
        params, repeated = authorization_params(query)
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


def login_form(proxy: Proxy, request_id: str, pending: dict, csrf: str, error: str = "",
               username: str = "", status: int = 200) -> web.Response:
    scope = " ".join(pending.get("scope", ())) or "(none)"
    body = (f'<p class="muted">Sign in to let <b>{html.escape(pending["client_id"])}</b> access '
            f"<b>{html.escape(scope)}</b> on <b>{html.escape(pending['aud'])}</b>.</p>"
            + (f'<p class="error" role="alert">{html.escape(error)}</p>' if error else "")
            + '<form method="post" action="/login">'
            f'<input type="hidden" name="request" value="{html.escape(request_id)}">'
            f'<input type="hidden" name="csrf_token" value="{html.escape(csrf)}">'
            f'<label>Username <input name="username" autocomplete="username" required '
            f'value="{html.escape(username)}" autofocus></label>'
            '<label>Password <input name="password" type="password" autocomplete="current-password" '
            'required></label><button type="submit">Sign in</button></form>')
    resp = page("Sign in", body, status, form_targets=(origin_of(pending["redirect_uri"]),))
    resp.set_cookie(CSRF_COOKIE, csrf, httponly=True, samesite="Lax", path="/login",
                    secure=proxy.secure_cookies, max_age=PENDING_TTL)
    return resp


def expired_page() -> web.Response:
    return page("Sign-in expired", "<p>This sign-in request is unknown or has expired. Go back to the "
                "application and start again.</p>", status=400)


@routes.get("/login")
async def login_page(request: web.Request) -> web.Response:
    proxy = request.app[PROXY]
    request_id = request.query.get("request", "")
    pending = await proxy.tokens.store.get("authz-request", request_id) if request_id else None
    if pending is None:
        return expired_page()
    return login_form(proxy, request_id, pending, pending["csrf"])


@routes.post("/login")
async def login_submit(request: web.Request) -> web.Response:
    proxy = request.app[PROXY]
    form = await read_form(request)
    request_id = form.get("request", "")
    pending = await proxy.tokens.store.get("authz-request", request_id) if request_id else None
    if pending is None:
        return expired_page()
    sent, cookie = form.get("csrf_token", ""), request.cookies.get(CSRF_COOKIE, "")
    expected = pending["csrf"].encode()
    if not (secrets.compare_digest(sent.encode(), expected) and secrets.compare_digest(cookie.encode(), expected)):
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
