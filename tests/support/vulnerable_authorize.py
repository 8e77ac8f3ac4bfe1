"""The vulnerable authorization server's authorization endpoint, login and consent pages (tests only)."""
from __future__ import annotations

import asyncio
import html
import secrets
import time
from urllib.parse import parse_qsl, urlencode

from aiohttp import web

from .vulnerable_common import CLIENTS, FLAWS, STATE, USERS, VERIFIER_RE, Flaws, page



def raw_query(request: web.Request) -> str:
    """The query string as sent (aiohttp's ``query_string`` is already percent-decoded once)."""
    return request.raw_path.partition("?")[2]


def _params(request: web.Request, first_wins: bool) -> dict[str, str] | None:
    pairs = parse_qsl(raw_query(request), keep_blank_values=True)
    out: dict[str, str] = {}
    for k, v in pairs:
        if k in out:
            if first_wins:
                continue
            return None
        out[k] = v
    return {k: v for k, v in out.items() if v != ""}


def redirect_ok(flaws: Flaws, sent: str, registered: tuple[str, ...]) -> bool:
    if flaws.redirect_prefix:
        return any(sent.startswith(r) for r in registered)
    return any(secrets.compare_digest(sent, r) for r in registered)


def back(uri: str, params: dict) -> web.Response:
    sep = "&" if "?" in uri else "?"
    return web.Response(status=302, headers={"Location": uri + sep + urlencode(params)})


async def authorize(request: web.Request) -> web.Response:
    flaws, st = request.app[FLAWS], request.app[STATE]
    params = _params(request, flaws.duplicates_first_wins)
    if params is None:
        return page(request, "<h1>Invalid request</h1><p>a parameter is repeated</p>", 400)
    client = CLIENTS.get(params.get("client_id", ""))
    sent = params.get("redirect_uri")
    if client is None or not sent or not redirect_ok(flaws, sent, client["redirect_uris"]):
        return page(request, "<h1>Invalid client or redirect_uri</h1>", 400)
    state = params.get("state")
    if state is not None and flaws.state_truncated:
        state = state[:256]

    def fail(error: str) -> web.Response:
        if flaws.error_page_for_request_errors:
            return page(request, f"<h1>{error}</h1>", 400)
        out = {"error": error}
        if state is not None and not flaws.state_dropped:
            out["state"] = state
        out["iss"] = str(request.url.origin())
        return back(sent, out)

    known = {"response_type", "client_id", "redirect_uri", "scope", "state", "code_challenge",
             "code_challenge_method", "nonce"}
    if flaws.unknown_param_rejected and set(params) - known:
        return fail("invalid_request")
    if "response_type" not in params:
        return fail("invalid_request")
    if params["response_type"] != "code":
        return fail("unsupported_response_type")
    scope = params.get("scope", " ".join(client["scopes"])).split()
    if not set(scope) <= set(client["scopes"]):
        return fail("invalid_scope")
    challenge, method = params.get("code_challenge"), params.get("code_challenge_method")
    if challenge is None:
        if not flaws.pkce_optional:
            return fail("invalid_request")
        method = None
    else:
        if method is None:
            method = "plain" if flaws.plain_accepted else None
        if flaws.method_lenient and method not in ("plain",):
            method = "S256"
        if method == "plain" and not flaws.plain_accepted:
            return fail("invalid_request")
        if method not in ("S256", "plain"):
            return fail("invalid_request")
        if not flaws.challenge_format_unchecked and not VERIFIER_RE.match(challenge):
            return fail("invalid_request")
    # the user
    sid = request.cookies.get("sid")
    user = st["sessions"].get(sid or "")
    if user is None:
        pre = request.cookies.get("pre") or secrets.token_urlsafe(16)
        csrf = st["csrf"].setdefault(pre, secrets.token_urlsafe(16))
        resp = page(request, (
            f'<form method="post" action="/login"><input type="hidden" name="csrf_token" value="{csrf}">'
            f'<input type="hidden" name="return_to" value="{html.escape(request.path_qs)}">'
            '<label>Username <input type="text" name="username"></label>'
            '<label>Password <input type="password" name="password"></label>'
            '<button type="submit">Sign in</button></form>'))
        resp.set_cookie("pre", pre, httponly=True, samesite=None if flaws.csrf_unchecked else "Lax")
        return resp
    if st["consent"] and not st["consented"].get(sid):
        csrf = st["csrf"].setdefault(sid, secrets.token_urlsafe(16))
        return page(request, (
            f'<form method="post" action="/consent"><input type="hidden" name="csrf_token" value="{csrf}">'
            f'<input type="hidden" name="return_to" value="{html.escape(request.path_qs)}">'
            f'<p>Allow {html.escape(params["client_id"])}?</p>'
            '<button type="submit" name="decision" value="deny">Deny</button>'
            '<button type="submit" name="decision" value="approve">Approve</button></form>'))
    if flaws.weak_codes:
        code = f"{next(st['counter']):08x}"
    else:
        code = secrets.token_urlsafe(32)
    st["codes"][code] = {"client_id": params["client_id"], "redirect_uri": sent, "challenge": challenge,
                         "method": method, "user": user, "scope": scope,
                         "exp": float("inf") if flaws.codes_never_expire else time.time() + st["code_ttl"]}
    out = {"code": code}
    if state is not None and not flaws.state_dropped:
        out["state"] = state
    if not flaws.iss_missing:
        out["iss"] = str(request.url.origin())
    return back(sent, out)


async def _form(request: web.Request) -> dict[str, str]:
    return dict(parse_qsl((await request.read()).decode(), keep_blank_values=True))


async def login(request: web.Request) -> web.Response:
    flaws, st = request.app[FLAWS], request.app[STATE]
    form = await _form(request)
    pre = request.cookies.get("pre", "")
    expected = st["csrf"].get(pre)
    if not flaws.csrf_unchecked and (not expected or not secrets.compare_digest(form.get("csrf_token", ""), expected)):
        return page(request, "<h1>Invalid CSRF token</h1>", 403)
    user, password = form.get("username", ""), form.get("password", "")
    if flaws.login_enumeration and user not in USERS:
        return page(request, "<h1>No such user</h1>", 401)
    if flaws.login_timing and user in USERS:
        await asyncio.sleep(0.15)   # a slow password hash, skipped for unknown users
    if not secrets.compare_digest(USERS.get(user, "\0"), password):
        return page(request, "<h1>Wrong username or password</h1>", 401)
    sid = secrets.token_urlsafe(16)
    st["sessions"][sid] = user
    return_to = form.get("return_to", "/")
    if not return_to.startswith("/authorize"):
        return_to = "/"
    resp = web.Response(status=307 if flaws.login_307 else 303, headers={"Location": return_to})
    resp.set_cookie("sid", sid, httponly=True, samesite=None if flaws.csrf_unchecked else "Lax")
    return resp


async def consent_post(request: web.Request) -> web.Response:
    flaws, st = request.app[FLAWS], request.app[STATE]
    form = await _form(request)
    sid = request.cookies.get("sid", "")
    expected = st["csrf"].get(sid)
    if sid not in st["sessions"]:
        return page(request, "<h1>Not signed in</h1>", 403)
    if not flaws.csrf_unchecked and (not expected or not secrets.compare_digest(form.get("csrf_token", ""), expected)):
        return page(request, "<h1>Invalid CSRF token</h1>", 403)
    if form.get("decision") != "approve":
        return page(request, "<h1>Denied</h1>", 403)
    st["consented"][sid] = True
    return web.Response(status=303, headers={"Location": form.get("return_to", "/")})
