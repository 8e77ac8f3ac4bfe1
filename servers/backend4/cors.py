"""CORS (Fetch standard) for backend4: the SPA calls the API with an Authorization header.

Tokens travel in the Authorization header, never in cookies, so there is no credentials mode; only the
frontend's origins (the defaults plus any ``--frontend-url``) get CORS headers.
"""
from __future__ import annotations

from urllib.parse import urlsplit

from aiohttp import web

from servers.common.settings import Settings

DEFAULT_FRONTEND_ORIGINS = ("http://localhost:8080", "http://127.0.0.1:8080")


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def frontend_origins(settings: Settings) -> frozenset[str]:
    """Origins allowed to call the API from a browser: the frontend's defaults plus any --frontend-url."""
    extra = tuple(getattr(settings, "frontend_urls", ()) or ())
    return frozenset(DEFAULT_FRONTEND_ORIGINS + tuple(origin_of(u) for u in extra))


ORIGINS = web.AppKey("cors_origins", frozenset)
CORS_HEADERS = {"Access-Control-Allow-Methods": "GET", "Access-Control-Allow-Headers": "Authorization",
                "Access-Control-Max-Age": "600"}


@web.middleware
async def preflight_middleware(request: web.Request, handler) -> web.StreamResponse:
    """CORS preflight (OPTIONS with Access-Control-Request-Method) on any path: allowed origins get the
    methods/headers; others get no CORS headers (the browser then blocks the request)."""
    if request.method != "OPTIONS" or "Access-Control-Request-Method" not in request.headers:
        return await handler(request)
    resp = web.Response(status=204)
    if request.headers.get("Origin") in request.app[ORIGINS]:
        resp.headers.update(CORS_HEADERS)
    return resp


async def add_cors_headers(request: web.Request, response: web.StreamResponse) -> None:
    """Every response (errors included, so the SPA can read a 401) to an allowed origin."""
    origin = request.headers.get("Origin")
    response.headers.add("Vary", "Origin")
    if origin is not None and origin in request.app[ORIGINS]:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Expose-Headers"] = "WWW-Authenticate"
