"""The middleware every server shares, and the pieces of app set-up that go with it.

- ``response_middleware``: the ONE place where errors become responses. OAuthError subclasses carry their
  wire values; aiohttp's HTTP exceptions (404, 405, 413, ...) become JSON; anything unexpected is logged
  with its traceback and answered with a JSON 500 ``server_error`` that shows nothing of it. The same
  middleware sets the security headers on every response, errors included: nosniff everywhere;
  ``no-store`` on every JSON response (token responses MUST carry it, RFC 6749 §5.1; user data should not
  be cached either).
- ``AccessLogger``: one line per request (method, path without query, status, duration): never a token,
  password or secret, since those travel in headers, bodies and query strings, which are not logged.
- ``add_routes``: registers every route also with a trailing slash, so ``/users/me/`` works without a
  redirect.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Iterable

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

from .errors import HTTP_STATUS_ERRORS, NO_STORE, OAuthError, ServerError

log = logging.getLogger("oauthlab.errors")
access_log = logging.getLogger("oauthlab.access")


def _http_exception_response(exc: web.HTTPException) -> web.StreamResponse:
    if exc.status in (301, 302, 303, 304, 307, 308) or exc.status < 400:
        return exc
    cls = HTTP_STATUS_ERRORS.get(exc.status)
    if cls is not None:
        err = cls(exc.reason)
    else:
        err = OAuthError(exc.reason)
        err.status = exc.status  # type: ignore[misc]
        err.error = exc.reason.lower().replace(" ", "_") or "error"  # type: ignore[misc]
        err.description = exc.reason  # type: ignore[misc]
    resp = err.to_response()
    if "Allow" in exc.headers:
        resp.headers["Allow"] = exc.headers["Allow"]
    return resp


def _error_response(request: web.Request, exc: BaseException) -> web.StreamResponse:
    """The response for an exception a handler raised (see the module docstring)."""
    if isinstance(exc, OAuthError):
        if exc.status >= 500:
            log.error("%s %s -> %s: %s", request.method, request.path, exc.error, exc.reason)
        elif log.isEnabledFor(logging.INFO):
            log.info("%s %s -> %s: %s", request.method, request.path, exc.error, exc.reason)
        return exc.to_response()
    if isinstance(exc, web.HTTPException):
        return _http_exception_response(exc)
    log.error("unhandled error on %s %s", request.method, request.path, exc_info=exc)
    return ServerError().to_response()


def _secure(resp: web.StreamResponse) -> web.StreamResponse:
    h = resp.headers
    if "X-Content-Type-Options" not in h:
        h["X-Content-Type-Options"] = "nosniff"
    # A response that carries no-store already (token responses build it in) needs no content-type parse.
    missing = [k for k in NO_STORE if k not in h]
    if missing and resp.content_type == "application/json":
        for k in missing:
            h[k] = NO_STORE[k]
    return resp


@web.middleware
async def response_middleware(request: web.Request, handler) -> web.StreamResponse:
    """Errors become responses (the one place), and every response gets the security headers: one
    middleware for both, so a request pays for one extra coroutine frame, not two."""
    try:
        resp = await handler(request)
    except (asyncio.CancelledError, ConnectionResetError):
        raise
    except Exception as exc:  # noqa: BLE001 - the last line of defence: never a traceback on the wire
        resp = _error_response(request, exc)
    return _secure(resp)


class AccessLogger(AbstractAccessLogger):
    """method path status duration: no query string, no headers, no body."""

    def log(self, request, response, time: float) -> None:  # noqa: A002 - aiohttp's signature
        self.logger.info("%s %s %s %.1fms", request.method, request.path, response.status, time * 1000)

    @property
    def enabled(self) -> bool:
        return self.logger.isEnabledFor(logging.INFO)


def add_routes(app: web.Application, routes: Iterable[web.RouteDef]) -> None:
    """Add routes, each also under its trailing-slash twin (no redirect, RFC-neutral)."""
    defs = []
    for r in routes:
        defs.append(r)
        if isinstance(r, web.RouteDef) and r.path != "/" and not r.path.endswith("/"):
            defs.append(web.RouteDef(r.method, r.path + "/", r.handler, dict(r.kwargs)))
    app.add_routes(defs)


def base_app(max_body: int = 64 * 1024, extra_middlewares: tuple = ()) -> web.Application:
    """An application with the shared middleware, a body limit (413 above it) and no other state."""
    return web.Application(client_max_size=max_body,
                           middlewares=[response_middleware, *extra_middlewares])
