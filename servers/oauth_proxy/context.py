"""What the proxy's handlers share: one typed app key holding the registry, token service, keys and the
endpoint URLs, plus the small HTTP helpers used by several endpoints (CORS, redirect building)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from servers.common.errors import OAuthError
from servers.common.jwks import KeyRing
from servers.common.settings import Settings

from .clients import ClientRegistry
from .issuer import TokenService


class InvalidTarget(OAuthError):
    """RFC 8707 §2: the requested resource is invalid, unknown or not allowed for this client."""
    error = "invalid_target"
    description = "The requested resource is invalid or not allowed."


@dataclass
class Proxy:
    settings: Settings
    issuer: str
    base_url: str
    keyring: KeyRing
    clients: ClientRegistry
    tokens: TokenService
    exchange: Any = None  # exchange.TrustedIssuers

    def url(self, path: str) -> str:
        return self.base_url + path

    @property
    def secure_cookies(self) -> bool:
        return self.base_url.startswith("https://")


PROXY = web.AppKey("oauth_proxy", Proxy)

# Paths a registered SPA origin may call from the browser (never /authorize or /login: RFC 9700 §2.6).
CORS_PATHS = frozenset({"/token", "/revoke", "/.well-known/jwks.json", "/.well-known/oauth-authorization-server",
                        "/.well-known/openid-configuration"})


def with_query(uri: str, params: dict[str, str]) -> str:
    """Append parameters to a (registered) redirect URI, keeping its own query (RFC 6749 §3.1.2)."""
    return uri + ("&" if "?" in uri else "?") + urlencode(params)


def cors_headers(origin: str | None, allowed: set[str]) -> dict[str, str]:
    if origin is None or origin not in allowed:
        return {"Vary": "Origin"}
    return {"Access-Control-Allow-Origin": origin, "Vary": "Origin",
            "Access-Control-Expose-Headers": "WWW-Authenticate, Retry-After"}


@web.middleware
async def cors_middleware(request: web.Request, handler) -> web.StreamResponse:
    """CORS for registered SPA origins on the token, revocation and key endpoints only; no credentials."""
    path = request.path.rstrip("/") or "/"
    if path not in CORS_PATHS:
        return await handler(request)
    origin = request.headers.get("Origin")
    allowed = await request.app[PROXY].clients.cors_origins() if origin else set()
    headers = cors_headers(origin, allowed)
    if request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers:
        if "Access-Control-Allow-Origin" in headers:
            headers.update({"Access-Control-Allow-Methods": "GET, POST",
                            "Access-Control-Allow-Headers": "Content-Type, Authorization, X-Requested-With",
                            "Access-Control-Max-Age": "600"})
        return web.Response(status=204, headers=headers)
    try:
        resp = await handler(request)
    except OAuthError as err:
        err.extra_headers.update(headers)
        raise
    resp.headers.update(headers)
    return resp
