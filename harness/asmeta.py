"""Authorization server metadata discovery: RFC 8414 ``/.well-known/oauth-authorization-server``, then
OpenID Connect Discovery ``/.well-known/openid-configuration``."""
from __future__ import annotations

from urllib.parse import urlsplit

import aiohttp

from .client import send
from .scenario import Observation


class Unreachable(Exception):
    """The target cannot be reached or has no usable metadata: one line for the user (exit 2)."""


def metadata_urls(issuer: str) -> list[str]:
    """RFC 8414 §3.1 (well-known segment inserted before the issuer's path), then OIDC Discovery §4
    (appended), then the RFC 8414 form appended (some servers do that)."""
    parts = urlsplit(issuer.rstrip("/"))
    root = f"{parts.scheme}://{parts.netloc}"
    path = parts.path.rstrip("/")
    urls = [f"{root}/.well-known/oauth-authorization-server{path}",
            f"{root}{path}/.well-known/openid-configuration"]
    if path:
        urls.append(f"{root}{path}/.well-known/oauth-authorization-server")
    return urls


async def discover(session: aiohttp.ClientSession, issuer: str) -> tuple[dict, Observation]:
    """The metadata document of ``issuer`` and the observation it came from. Raises Unreachable."""
    last: Observation | None = None
    for url in metadata_urls(issuer):
        obs = await send(session, "GET", url, label="metadata", headers={"Accept": "application/json"})
        last = obs
        if obs.status is None:
            raise Unreachable(f"{issuer} is unreachable ({obs.error})")
        if obs.status == 200 and isinstance(obs.json, dict):
            meta = obs.json
            if meta.get("issuer") not in (issuer, issuer.rstrip("/")):
                raise Unreachable(f"the metadata at {url} names issuer {meta.get('issuer')!r}, not the profile's "
                                  f"{issuer!r} (RFC 8414 §3.3: they MUST be identical)")
            for name in ("authorization_endpoint", "token_endpoint"):
                if not isinstance(meta.get(name), str):
                    raise Unreachable(f"the metadata at {url} has no {name}")
            return meta, obs
    raise Unreachable(f"no authorization server metadata for {issuer} (last answer: "
                      f"{last.status if last else '-'} at {last.url if last else '-'})")
