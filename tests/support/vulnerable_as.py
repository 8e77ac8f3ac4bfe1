"""Small, deliberately vulnerable authorization servers for the harness self-check (tests only).

``create_as(Flaws(...))`` is an authorization server (code flow + PKCE, login form with CSRF token, consent
page optional, refresh tokens, client_credentials, revocation, RFC 8414 metadata). With ``Flaws()`` it
follows every rule the AS catalog checks, so it must get zero findings; each flag breaks exactly one rule
the way real servers have (prefix-matched redirect URIs, PKCE optional, code replay...), so the self-check
can assert that exactly the scenarios meant to catch it fail.

``create_password_server(PasswordFlaws(...))`` is the same idea for a password-grant token endpoint like
our backend/backend2/backend3.

Everything is in memory and deliberately small: no bcrypt, no store. Never run these outside tests.
"""
from __future__ import annotations

import asyncio
import base64
import hashlib
import html
import itertools
import json
import re
import secrets
import time
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode

from aiohttp import web

VERIFIER_RE = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")
USERS = {"johndoe": "secret"}
SCOPES = ("me", "items")
REDIRECT = "http://localhost:8080/callback"
M2M_SECRET = "m2m-secret-for-tests-only"


@dataclass(frozen=True)
class Flaws:
    # PKCE (catalog §6)
    pkce_optional: bool = False               # a public client may omit code_challenge
    plain_accepted: bool = False              # code_challenge_method=plain accepted
    verifier_ignored: bool = False            # the token endpoint never looks at code_verifier
    verifier_optional: bool = False           # ...checks it only when one is sent
    verifier_format_unchecked: bool = False   # no RFC 7636 §4.1 syntax check
    challenge_format_unchecked: bool = False  # no RFC 7636 §4.2 syntax check
    method_lenient: bool = False              # s256, S512, "" treated as S256
    no_pkce_metadata: bool = False            # code_challenge_methods_supported missing
    # authorization endpoint (§7)
    redirect_prefix: bool = False             # redirect_uri.startswith(registered)
    state_dropped: bool = False
    state_truncated: bool = False             # state cut at 256 characters
    duplicates_first_wins: bool = False       # repeated authorize parameters: first one used
    unknown_param_rejected: bool = False
    error_page_for_request_errors: bool = False  # response_type/scope errors shown, not sent back
    csrf_unchecked: bool = False              # no CSRF token check, and cookies without SameSite
    login_enumeration: bool = False           # the login page says "no such user" for an unknown user
    login_timing: bool = False                # only a known user's password is checked (slowly)
    login_307: bool = False
    iss_missing: bool = False                 # advertises RFC 9207 but sends no iss
    # token endpoint (§8)
    code_replay: bool = False                 # codes are not single-use
    code_reuse_no_revoke: bool = False        # second use refused, tokens from the first kept
    code_race: bool = False                   # check-then-consume with a pause in between
    code_not_client_bound: bool = False
    token_redirect_unchecked: bool = False    # a different redirect_uri accepted at /token
    token_redirect_optional: bool = False     # redirect_uri may be omitted at /token
    garbage_code_500: bool = False            # an empty code crashes
    client_auth_optional: bool = False        # a confidential client without credentials accepted
    basic_no_challenge: bool = False          # 401 invalid_client without WWW-Authenticate
    codes_never_expire: bool = False          # no code lifetime
    used_codes_forgotten: bool = False        # a used code is remembered for a quarter of its lifetime only
    unsupported_grant_as_invalid_request: bool = False
    password_grant: bool = False              # the password grant is enabled (RFC 9700 §2.4)
    cc_public_allowed: bool = False
    cc_refresh_token: bool = False
    scope_unchecked: bool = False             # unknown scopes granted at /token
    token_get: bool = False                   # GET /token works
    token_duplicates_first_wins: bool = False
    error_text_plain: bool = False            # JSON errors sent as text/plain, with a CR/LF description
    no_store_missing: bool = False
    no_expires_in: bool = False
    # refresh tokens (§9)
    rt_not_client_bound: bool = False
    rt_scope_escalation: bool = False
    rt_not_rotated: bool = False
    rt_reuse_undetected: bool = False         # rotated, but the old one keeps working
    rt_family_not_revoked: bool = False       # reuse refused, but the new one keeps working
    rt_accepts_access_token: bool = False     # one table for both kinds
    rt_bad_chars: bool = False                # refresh tokens with a space and non-ASCII
    # hygiene (§11)
    no_frame_protection: bool = False
    referrer_unsafe_url: bool = False
    cors_authorize: bool = False
    weak_codes: bool = False                  # sequential 8-hex-digit codes


CLIENTS = {
    "frontend": {"public": True, "redirect_uris": (REDIRECT,), "grants": ("authorization_code", "refresh_token"),
                 "scopes": SCOPES},
    "m2m": {"public": False, "secret": M2M_SECRET, "redirect_uris": (), "grants": ("client_credentials",),
            "scopes": SCOPES},
}

FLAWS = web.AppKey("flaws", Flaws)
STATE = web.AppKey("state", dict)
SECURE_HEADERS = {"X-Frame-Options": "DENY", "Content-Security-Policy": "frame-ancestors 'none'",
                  "Referrer-Policy": "no-referrer", "X-Content-Type-Options": "nosniff"}


class OAuthFail(Exception):
    def __init__(self, error: str, status: int = 400, *, headers: dict | None = None, desc: str = "") -> None:
        super().__init__(error)
        self.error, self.status, self.headers, self.desc = error, status, headers or {}, desc or error


def s256(v: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(v.encode()).digest()).rstrip(b"=").decode()


def page(request: web.Request, body: str, status: int = 200) -> web.Response:
    flaws = request.app[FLAWS]
    headers = dict(SECURE_HEADERS)
    if flaws.no_frame_protection:
        headers.pop("X-Frame-Options"), headers.pop("Content-Security-Policy")
    if flaws.referrer_unsafe_url:
        headers["Referrer-Policy"] = "unsafe-url"
    if flaws.cors_authorize and request.headers.get("Origin"):
        headers["Access-Control-Allow-Origin"] = request.headers["Origin"]
    return web.Response(status=status, text=f"<!doctype html><html><body>{body}</body></html>",
                        content_type="text/html", headers=headers)


def token_json(request: web.Request, body: dict, status: int = 200, headers: dict | None = None) -> web.Response:
    flaws = request.app[FLAWS]
    h = dict(headers or {})
    if not flaws.no_store_missing:
        h.update({"Cache-Control": "no-store", "Pragma": "no-cache"})
    return web.json_response(body, status=status, headers=h)


def error_json(request: web.Request, exc: OAuthFail) -> web.Response:
    if request.app[FLAWS].error_text_plain:
        body = json.dumps({"error": exc.error, "error_description": "failed:\r\nsee the logs"})
        return web.Response(status=exc.status, text=body, content_type="text/plain",
                            headers={**exc.headers, "Cache-Control": "no-store", "Pragma": "no-cache"})
    return token_json(request, {"error": exc.error, "error_description": exc.desc}, exc.status, exc.headers)


# -- authorization endpoint ---------------------------------------------------------------------------------
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


# -- token endpoint -----------------------------------------------------------------------------------------
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


async def metadata(request: web.Request) -> web.Response:
    flaws = request.app[FLAWS]
    base = str(request.url.origin())
    meta = {"issuer": base, "authorization_endpoint": f"{base}/authorize", "token_endpoint": f"{base}/token",
            "revocation_endpoint": f"{base}/revoke", "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
            "scopes_supported": list(SCOPES), "authorization_response_iss_parameter_supported": True}
    if not flaws.no_pkce_metadata:
        meta["code_challenge_methods_supported"] = ["plain", "S256"] if flaws.plain_accepted else ["S256"]
    return web.json_response(meta)


def create_as(flaws: Flaws = Flaws(), *, consent: bool = False, code_ttl: float = 60.0) -> web.Application:
    app = web.Application()
    app[FLAWS] = flaws
    app[STATE] = {"sessions": {}, "csrf": {}, "codes": {}, "used_codes": {}, "used_until": {}, "access": {},
                  "refresh": {}, "code_ttl": code_ttl,
                  "revoked_families": set(), "consent": consent, "consented": {}, "counter": itertools.count(1)}
    app.router.add_get("/.well-known/oauth-authorization-server", metadata)
    app.router.add_get("/authorize", authorize)
    app.router.add_post("/authorize", authorize)     # RFC 6749 §3.1: MAY support POST (parameters in the query here)
    app.router.add_post("/login", login)
    app.router.add_post("/consent", consent_post)
    app.router.add_route("*", "/token", token)
    app.router.add_post("/revoke", revoke)
    return app


# -- a password-grant token endpoint (like backend/backend2/backend3) ----------------------------------------------
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


__all__ = ["Flaws", "PasswordFlaws", "create_as", "create_password_server", "REDIRECT", "M2M_SECRET"]
