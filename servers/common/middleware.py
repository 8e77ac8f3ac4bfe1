"""The middleware every server shares, and the pieces of app set-up that go with it.

- ``error_middleware``: the ONE place where errors become responses. OAuthError subclasses carry their wire
  values; aiohttp's HTTP exceptions (404, 405, 413, ...) become JSON; anything unexpected is logged with its
  traceback and answered with a JSON 500 ``server_error`` that shows nothing of it.
- ``security_headers_middleware``: nosniff everywhere; ``no-store`` on every JSON response (token responses
  MUST carry it, RFC 6749 §5.1; user data should not be cached either).
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


@web.middleware
async def error_middleware(request: web.Request, handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except OAuthError as err:
        if err.status >= 500:
            log.error("%s %s -> %s: %s", request.method, request.path, err.error, err.reason)
        else:
            log.info("%s %s -> %s: %s", request.method, request.path, err.error, err.reason)
        return err.to_response()
    except web.HTTPException as exc:
        return _http_exception_response(exc)
    except (asyncio.CancelledError, ConnectionResetError):
        raise
    except Exception:  # noqa: BLE001 - the last line of defence: never a traceback on the wire
        log.exception("unhandled error on %s %s", request.method, request.path)
        return ServerError().to_response()


@web.middleware
async def security_headers_middleware(request: web.Request, handler) -> web.StreamResponse:
    resp = await handler(request)
    h = resp.headers
    h.setdefault("X-Content-Type-Options", "nosniff")
    if resp.content_type == "application/json":
        for k, v in NO_STORE.items():
            h.setdefault(k, v)
    return resp


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
                           middlewares=[security_headers_middleware, error_middleware, *extra_middlewares])
