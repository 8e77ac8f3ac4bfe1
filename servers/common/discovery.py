"""Finding an authorization server from its issuer URL: RFC 8414 metadata, then OpenID Connect Discovery.

- RFC 8414 §3.1: the metadata lives at the issuer's host with ``/.well-known/oauth-authorization-server``
  inserted before the issuer's path (a terminating "/" of the issuer is removed first);
- OpenID Connect Discovery 1.0 §4: ``<issuer>/.well-known/openid-configuration`` (appended to the path);
- RFC 8414 §3.3: "The "issuer" value returned MUST be identical to the authorization server's issuer
  identifier value into which the well-known URI string was inserted" -- else the metadata MUST NOT be used
  (this is what stops one server from impersonating another, RFC 8414 §6.2);
- every fetch is bounded: a total timeout, no redirects, a size limit, a JSON object or nothing.

Used by backend4 (to find the JWKS and the endpoints for its /docs) and the frontend (to find the
authorization, token and revocation endpoints for the SPA). It is the servers' one discovery client; the
harness and the CLI keep their own (harness/askit.py), so that the two sides stay independent.
"""
from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp

MAX_DOCUMENT_BYTES = 256 * 1024
DEFAULT_TIMEOUT = 5.0


class DiscoveryError(Exception):
    """The metadata or a key set could not be fetched or is unusable (the message says why)."""


def metadata_urls(issuer: str) -> list[str]:
    """The RFC 8414 URL first, then the OpenID Connect one (identical when the issuer has no path)."""
    parts = urlsplit(issuer)
    path = parts.path.rstrip("/")
    rfc8414 = urlunsplit((parts.scheme, parts.netloc, "/.well-known/oauth-authorization-server" + path, "", ""))
    oidc = urlunsplit((parts.scheme, parts.netloc, path + "/.well-known/openid-configuration", "", ""))
    return [rfc8414, oidc]


def check_http_url(value: Any, name: str) -> str:
    """RFC 8414 §2: endpoint and ``jwks_uri`` values are absolute URLs (https for production); a metadata URL
    must be an absolute http(s) URL without a fragment."""
    if not isinstance(value, str):
        raise DiscoveryError(f"{name} is missing or not a string")
    parts = urlsplit(value)
    if parts.scheme not in ("https", "http") or not parts.netloc or parts.fragment:
        raise DiscoveryError(f"{name} {value[:80]!r} is not an absolute http(s) URL")
    return value


async def fetch_json(session: aiohttp.ClientSession, url: str, *, timeout: float = DEFAULT_TIMEOUT,
                     max_bytes: int = MAX_DOCUMENT_BYTES) -> dict:
    """GET a JSON object: status 200, at most ``max_bytes``, no redirects; anything else DiscoveryError."""
    doc, _ = await fetch_json_if_changed(session, url, None, timeout=timeout, max_bytes=max_bytes)
    if doc is None:  # cannot happen: no If-None-Match was sent
        raise DiscoveryError(f"{url} answered 304 to an unconditional request")
    return doc


async def fetch_json_if_changed(session: aiohttp.ClientSession, url: str, etag: str | None, *,
                                timeout: float = DEFAULT_TIMEOUT,
                                max_bytes: int = MAX_DOCUMENT_BYTES) -> tuple[dict | None, str | None]:
    """Conditional GET (RFC 9110 §13.1.2 If-None-Match when ``etag`` is given): ``(None, etag)`` on 304
    Not Modified, else ``(document, its ETag or None)`` with the same bounds as ``fetch_json``."""
    headers = {"Accept": "application/json"}
    if etag is not None:
        headers["If-None-Match"] = etag
    try:
        async with session.get(url, allow_redirects=False, headers=headers,
                               timeout=aiohttp.ClientTimeout(total=timeout)) as resp:
            if resp.status == 304 and etag is not None:
                return None, etag
            if resp.status != 200:
                raise DiscoveryError(f"{url} answered {resp.status}")
            if resp.content_length is not None and resp.content_length > max_bytes:
                raise DiscoveryError(f"{url} is larger than {max_bytes} bytes")
            new_etag = resp.headers.get("ETag")
            body = bytearray()
            async for chunk in resp.content.iter_chunked(16384):
                body += chunk
                if len(body) > max_bytes:
                    raise DiscoveryError(f"{url} is larger than {max_bytes} bytes")
    except (aiohttp.ClientError, asyncio.TimeoutError, TimeoutError, OSError, ValueError) as exc:
        raise DiscoveryError(f"{url}: {exc.__class__.__name__} {exc}".strip()) from None
    try:
        doc = json.loads(bytes(body).decode("utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise DiscoveryError(f"{url} is not JSON ({exc.__class__.__name__})") from None
    if not isinstance(doc, dict):
        raise DiscoveryError(f"{url} is not a JSON object")
    return doc, new_etag


async def discover(session: aiohttp.ClientSession, issuer: str, *, timeout: float = DEFAULT_TIMEOUT) -> dict:
    """The issuer's metadata (RFC 8414, else OpenID Connect), checked to be about this very issuer."""
    errors = []
    for url in metadata_urls(issuer):
        try:
            meta = await fetch_json(session, url, timeout=timeout)
        except DiscoveryError as exc:
            errors.append(str(exc))
            continue
        if meta.get("issuer") != issuer:
            # RFC 8414 §3.3: MUST NOT be used. Do not fall through to the other URL: it is the same server.
            raise DiscoveryError(f"{url} describes issuer {str(meta.get('issuer'))[:80]!r}, not {issuer!r}")
        for name in ("jwks_uri", "authorization_endpoint", "token_endpoint", "revocation_endpoint"):
            if name in meta:
                check_http_url(meta[name], name)
        return meta
    raise DiscoveryError("no metadata: " + "; ".join(errors))
