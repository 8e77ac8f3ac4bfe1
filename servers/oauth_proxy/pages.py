"""The proxy's own HTML pages: the login form, the authorization error page, the expired-request page.

Every page carries CSP (``frame-ancestors 'none'``; RFC 9700 §4.16 clickjacking), ``X-Frame-Options: DENY``,
``X-Content-Type-Options: nosniff``, ``Referrer-Policy: no-referrer`` and ``Cache-Control: no-store``. The
inline style is allowed by its hash only; the login form may post to the proxy and to the client's origin.
"""
from __future__ import annotations

import base64
import hashlib
import html
import logging

from aiohttp import web

from .clients import origin_of
from .context import Proxy

log = logging.getLogger("oauthlab.oauth_proxy")

CSRF_COOKIE = "oauthlab_login_csrf"
PENDING_TTL = 600

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
