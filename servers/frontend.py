"""frontend — the single-page app of the Authorization Code + PKCE flow (RFC 6749 §4.1, RFC 7636), served as
static files: plain JavaScript, no build step, no CDN (servers/static/frontend/).

This server only hands out files and a small ``/config.json`` (issuer, API URL, client_id, and the
authorization/token/revocation endpoints found by RFC 8414 discovery of ``--upstream-issuer``). Everything
else happens in the browser, as in a real SPA: the code_verifier from ``crypto.getRandomValues``, the S256
challenge from ``crypto.subtle``, ``state`` kept in sessionStorage only for the redirect round trip, the
code exchanged at the token endpoint by ``fetch`` (CORS), tokens kept in memory only (RFC 9700 §4.16 /
draft-ietf-oauth-browser-based-apps: no localStorage), and the API called with the access token.

Security headers on every response: a strict CSP (``script-src 'self'``, no inline script or style,
``connect-src`` limited to the issuer's endpoints and the API, ``frame-ancestors 'none'``,
``form-action 'none'``), ``Referrer-Policy: no-referrer`` (the callback URL carries the code),
``X-Frame-Options: DENY``, ``nosniff``, ``Cross-Origin-Opener-Policy: same-origin``, ``no-store`` on HTML.
"""
from __future__ import annotations

import asyncio
import logging
import time
from contextlib import asynccontextmanager
from pathlib import Path
from typing import AsyncIterator
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web

from .common import docs
from .common.background import polling
from .common.app import SETTINGS, health
from .common.discovery import DiscoveryError, discover, metadata_urls
from .common.middleware import add_routes, base_app
from .common.settings import Settings

log = logging.getLogger("oauthlab.frontend")

STATIC_DIR = Path(__file__).resolve().parent / "static" / "frontend"
DEFAULT_ISSUER = "http://127.0.0.1:9001"
DEFAULT_API = "http://127.0.0.1:9000"
CLIENT_ID = "frontend"
SCOPE = "me items"
ENDPOINTS = ("authorization_endpoint", "token_endpoint", "revocation_endpoint")


class IssuerMetadata:
    """The issuer's endpoints, discovered in the background (start-up never waits for the issuer) and on
    demand when a page asks before they are known (at most once per ``retry_interval``)."""

    def __init__(self, issuer: str, retry_interval: float = 2.0, timeout: float = 3.0) -> None:
        self.issuer = issuer
        self.retry_interval = retry_interval
        self.timeout = timeout
        self.session: aiohttp.ClientSession | None = None
        self.metadata: dict | None = None
        self.error: str | None = None
        self.attempted_at = -1e18
        self._lock = asyncio.Lock()

    async def fetch(self) -> dict | None:
        async with self._lock:
            if self.metadata is not None:
                return self.metadata
            if time.monotonic() - self.attempted_at < self.retry_interval:
                return None
            self.attempted_at = time.monotonic()
            assert self.session is not None
            try:
                meta = await discover(self.session, self.issuer, timeout=self.timeout)
                for name in ENDPOINTS[:2]:
                    if name not in meta:
                        raise DiscoveryError(f"the metadata has no {name}")
            except DiscoveryError as exc:
                self.error = str(exc)
                log.warning("discovery of %s failed: %s", self.issuer, exc)
                return None
            self.metadata, self.error = meta, None
            log.info("discovered %s", self.issuer)
            return meta

    async def run(self) -> None:
        delay = 1.0
        while await self.fetch() is None:
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)


METADATA = web.AppKey("issuer_metadata", IssuerMetadata)


def issuer_of(settings: Settings) -> str:
    return settings.upstream_issuer or DEFAULT_ISSUER


def api_of(settings: Settings) -> str:
    return (settings.frontend_api or DEFAULT_API).rstrip("/")


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def content_security_policy(settings: Settings, metadata: dict | None) -> str:
    """script-src 'self' and nothing inline; fetch() may reach only the issuer's endpoints and the API."""
    connect = ["'self'", origin_of(issuer_of(settings)), origin_of(api_of(settings))]
    for name in ENDPOINTS:
        if metadata and isinstance(metadata.get(name), str):
            connect.append(origin_of(metadata[name]))
    return ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            f"connect-src {' '.join(dict.fromkeys(connect))}; base-uri 'none'; form-action 'none'; "
            "frame-ancestors 'none'")


async def security_headers(request: web.Request, response: web.StreamResponse) -> None:
    h = response.headers
    h["Content-Security-Policy"] = content_security_policy(request.app[SETTINGS], request.app[METADATA].metadata)
    h["Referrer-Policy"] = "no-referrer"
    h["X-Frame-Options"] = "DENY"
    h["X-Content-Type-Options"] = "nosniff"
    h["Cross-Origin-Opener-Policy"] = "same-origin"
    h["Permissions-Policy"] = "camera=(), microphone=(), geolocation=(), payment=()"
    if response.content_type == "text/html":
        h["Cache-Control"] = "no-store"


routes = web.RouteTableDef()


@routes.get("/")
@routes.get("/callback")
async def index(request: web.Request) -> web.Response:
    """The one page; /callback is the same page, whose script finishes the flow (RFC 6749 §4.1.2)."""
    return web.Response(body=(STATIC_DIR / "index.html").read_bytes(), content_type="text/html",
                        charset="utf-8")


@routes.get("/config.json")
async def config(request: web.Request) -> web.Response:
    """What the SPA needs: where the issuer and the API are, its client_id, and the discovered endpoints
    (null while the issuer cannot be reached: the page says so and offers a retry)."""
    settings = request.app[SETTINGS]
    holder = request.app[METADATA]
    meta = await holder.fetch()
    body = {"issuer": issuer_of(settings), "api_url": api_of(settings), "client_id": CLIENT_ID, "scope": SCOPE,
            "metadata_url": metadata_urls(holder.issuer)[0],
            "endpoints": {n: meta.get(n) for n in ENDPOINTS} if meta else None,
            # RFC 9207: the issuer promises an ``iss`` parameter on its authorization responses.
            "iss_parameter": bool(meta and meta.get("authorization_response_iss_parameter_supported") is True),
            "discovery_error": None if meta else (holder.error or "not discovered yet")}
    return web.json_response(body, headers={"Cache-Control": "no-store"})


def metadata_context(settings: Settings):
    @asynccontextmanager
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        holder = app[METADATA]
        async with aiohttp.ClientSession(headers={"User-Agent": "oauthlab-frontend"}) as session, \
                polling(holder, session):
            yield
    return ctx


def static_files() -> dict[str, Path]:
    """The SPA's files (the directory is flat): name -> path."""
    return {p.name: p for p in STATIC_DIR.iterdir() if p.is_file() and not p.name.startswith(".")}


def static_type(name: str) -> str:
    import mimetypes
    return mimetypes.guess_type(name)[0] or "application/octet-stream"


async def static_file(request: web.Request) -> web.StreamResponse:
    """/static/NAME: one of the SPA's files, else the JSON 404 of any unknown path (aiohttp's static
    route answered an empty application/octet-stream 404, which schemathesis found)."""
    name = request.match_info["filename"]
    path = static_files().get(name)
    if path is None:
        raise web.HTTPNotFound()
    return web.FileResponse(path, headers={"Content-Type": static_type(name)})


CONFIG_SCHEMA = {
    "type": "object",
    "required": ["issuer", "api_url", "client_id", "scope", "metadata_url", "endpoints", "iss_parameter",
                 "discovery_error"],
    "properties": {**{k: {"type": "string"}
                      for k in ("issuer", "api_url", "client_id", "scope", "metadata_url")},
                   "endpoints": {"type": "object", "nullable": True,
                                 "properties": {n: {"type": "string", "nullable": True} for n in ENDPOINTS}},
                   "iss_parameter": {"type": "boolean"},
                   "discovery_error": {"type": "string", "nullable": True}},
}


def openapi() -> dict:
    """/openapi.json: the page, its configuration and its static files (content types as served)."""
    files = sorted(static_files())
    types = sorted({static_type(f) for f in files})
    headers = {"Content-Security-Policy": docs.header("script-src 'self'; connect-src: issuer and API",
                                                      r"default-src 'none'"),
               "Cache-Control": docs.header("never cached", r"no-store")}
    page = {"get": {"summary": "The SPA (the same page at /callback, where its script finishes the flow)",
                    "responses": {"200": docs.html_response("The page", headers)}}}
    static = {"get": {"summary": "The SPA's script, stylesheet and icon",
                      "parameters": [{"name": "filename", "in": "path", "required": True,
                                      "schema": {"type": "string", "enum": files}}],
                      "responses": {"200": {"description": "The file",
                                            "content": {t: {"schema": {"type": "string"}} for t in types}},
                                    **docs.error_responses(404)}}}
    return docs.openapi_document(
        "oauthlab frontend (single-page app, Authorization Code + PKCE in the browser)",
        "Static files and /config.json; the OAuth flow itself runs in the browser.",
        {"/": page, "/callback": page,
         "/config.json": docs.public_get("The SPA's configuration: issuer, API and the discovered endpoints "
                                         "(null while the issuer cannot be reached)", CONFIG_SCHEMA),
         "/health": docs.public_get("Liveness check (no auth)", docs.STATUS_SCHEMA),
         "/static/{filename}": static}, {})


def create_app(settings: Settings) -> web.Application:
    app = base_app(settings.max_body)
    app[SETTINGS] = settings
    app[METADATA] = IssuerMetadata(issuer_of(settings))
    app.cleanup_ctx.append(metadata_context(settings))
    app.on_response_prepare.append(security_headers)
    add_routes(app, [*routes, web.get("/health", health)])
    app.router.add_get("/static/{filename}", static_file)
    docs.add_docs(app, openapi())  # /openapi.json, Swagger UI at /docs (under this server's CSP)
    return app
