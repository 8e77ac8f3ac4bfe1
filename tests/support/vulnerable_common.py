"""Shared parts of the deliberately vulnerable authorization server (tests only): its flaws, clients,
state keys and response helpers."""
from __future__ import annotations

import base64
import hashlib
import json
import re
from dataclasses import dataclass

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
