"""OAuth clients of the proxy (RFC 6749 §2): registration records in the store, client authentication
(§2.3.1 client_secret_basic / client_secret_post; "MUST NOT use more than one authentication method"),
redirect URI rules (§3.1.2, RFC 9700 §2.1 / §2.6) and the clients seeded on first start.

Records live in the store's key/value namespace ``clients`` (so every instance on a shared store sees the
same clients)::

    {"client_id": "m2m", "type": "confidential", "redirect_uris": [], "scopes": ["me", "items"],
     "audiences": ["http://127.0.0.1:9000"], "grant_types": ["client_credentials", ...],
     "secret_sha256": "<hex>", "cors_origins": []}

Secrets are 256-bit random values stored as a SHA-256 digest only and compared in constant time (a digest
is enough for a high-entropy secret; bcrypt would add ~300 ms to every token request). The seeded ``m2m``
secret is also written to ``keys/client-secret-m2m`` (mode 0600, gitignored) so that
``run.py clients show m2m`` can print it; secrets of clients added later are printed once and not kept.

``--frontend-url`` / ``--resource-url`` (tests, the conformance runner) are an in-memory overlay on the
seeded clients: they are never written to the store.
"""
from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import secrets
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus, urlsplit

from aiohttp import web

from servers.common.errors import InvalidClient, InvalidRequest
from servers.common.keys import read_or_create_private
from servers.common.settings import ConfigError, Settings
from servers.common.store import Store

NS = "clients"
PUBLIC, CONFIDENTIAL = "public", "confidential"
CODE, REFRESH, CLIENT_CREDENTIALS = "authorization_code", "refresh_token", "client_credentials"
TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ALL_GRANTS = (CODE, REFRESH, CLIENT_CREDENTIALS, TOKEN_EXCHANGE)
DEFAULT_RESOURCE = "http://127.0.0.1:9000"  # backend4's identifier
SCOPES = {"me": "Read information about the current user", "items": "Read the current user's items"}


@dataclass(frozen=True)
class Client:
    client_id: str
    type: str = PUBLIC
    redirect_uris: tuple[str, ...] = ()
    scopes: tuple[str, ...] = ()
    audiences: tuple[str, ...] = ()
    grant_types: tuple[str, ...] = (CODE, REFRESH)
    secret_sha256: str | None = field(default=None, repr=False)
    cors_origins: tuple[str, ...] = ()
    created: int = 0

    @property
    def confidential(self) -> bool:
        return self.type == CONFIDENTIAL

    @property
    def default_audience(self) -> str | None:
        return self.audiences[0] if self.audiences else None

    def origins(self) -> set[str]:
        """Browser origins allowed by CORS: explicit ones, plus the origins of a public client's redirects."""
        out = set(self.cors_origins)
        if not self.confidential:
            out.update(origin_of(u) for u in self.redirect_uris)
        return out

    def to_record(self) -> dict[str, Any]:
        return {"client_id": self.client_id, "type": self.type, "redirect_uris": list(self.redirect_uris),
                "scopes": list(self.scopes), "audiences": list(self.audiences),
                "grant_types": list(self.grant_types), "secret_sha256": self.secret_sha256,
                "cors_origins": list(self.cors_origins), "created": self.created}

    @classmethod
    def from_record(cls, r: dict[str, Any]) -> "Client":
        return cls(r["client_id"], r.get("type", PUBLIC), tuple(r.get("redirect_uris", ())),
                   tuple(r.get("scopes", ())), tuple(r.get("audiences", ())),
                   tuple(r.get("grant_types", ())), r.get("secret_sha256"),
                   tuple(r.get("cors_origins", ())), int(r.get("created", 0)))

    def public_view(self) -> dict[str, Any]:
        d = self.to_record()
        d.pop("secret_sha256")
        return d


def origin_of(url: str) -> str:
    p = urlsplit(url)
    return f"{p.scheme}://{p.netloc}"


def secret_digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def secret_matches(client: Client, secret: str) -> bool:
    """Constant-time comparison of SHA-256 digests (the stored value is never the secret itself)."""
    if not client.secret_sha256:
        return False
    return secrets.compare_digest(secret_digest(secret), client.secret_sha256)


def new_secret() -> str:
    return secrets.token_urlsafe(32)  # 256 bits


def check_redirect_uri_registration(uri: str) -> None:
    """RFC 6749 §3.1.2: absolute, no fragment; RFC 9700 §2.6: https, or http on a loopback host only."""
    p = urlsplit(uri)
    if not p.scheme or not p.netloc or "#" in uri:
        raise ConfigError(f"redirect URI {uri!r} must be absolute and have no fragment")
    if p.scheme == "http" and p.hostname not in ("127.0.0.1", "localhost", "::1"):
        raise ConfigError(f"redirect URI {uri!r}: http is only allowed on a loopback host (RFC 9700 §2.6)")
    if p.scheme not in ("http", "https"):
        raise ConfigError(f"redirect URI {uri!r}: scheme must be https (or http on loopback)")


def secret_file(keys_dir: Path, client_id: str) -> Path:
    return Path(keys_dir) / f"client-secret-{client_id}"


def seeded_clients(m2m_secret_digest: str) -> list[Client]:
    now = int(time.time())
    return [
        Client("frontend", PUBLIC, ("http://localhost:8080/callback", "http://127.0.0.1:8080/callback"),
               ("me", "items"), (DEFAULT_RESOURCE,), (CODE, REFRESH), created=now),
        Client("backend4-docs", PUBLIC, ("http://127.0.0.1:9000/docs/oauth2-redirect.html",
                                         "http://localhost:9000/docs/oauth2-redirect.html"),
               ("me", "items"), (DEFAULT_RESOURCE,), (CODE, REFRESH), created=now),
        Client("m2m", CONFIDENTIAL, (), ("me", "items"), (DEFAULT_RESOURCE,),
               (CLIENT_CREDENTIALS, TOKEN_EXCHANGE), m2m_secret_digest, created=now),
    ]


async def seed_clients(store: Store, keys_dir: Path) -> bool:
    """Register frontend, backend4-docs and m2m once, on the first start of a store."""
    if await store.get_meta("clients-seeded"):
        return False
    secret = read_or_create_private(secret_file(keys_dir, "m2m"), new_secret)  # one secret for all
    for client in seeded_clients(secret_digest(secret)):
        if await store.get(NS, client.client_id) is None:
            await store.put(NS, client.client_id, client.to_record())
    await store.set_meta("clients-seeded", "1")
    return True


def overlay(client: Client, settings: Settings) -> Client:
    """Add the --frontend-url / --resource-url redirects, origins and audiences (in memory only)."""
    resources = tuple(u.rstrip("/") for u in settings.resource_urls)
    frontends = tuple(u.rstrip("/") for u in settings.frontend_urls)
    if client.client_id == "frontend" and frontends:
        extra = tuple(f"{u}/callback" for u in frontends)
        client = replace(client, redirect_uris=client.redirect_uris + extra)
    if client.client_id == "backend4-docs" and resources:
        extra = tuple(f"{u}/docs/oauth2-redirect.html" for u in resources)
        client = replace(client, redirect_uris=client.redirect_uris + extra)
    if client.client_id in ("frontend", "backend4-docs", "m2m") and resources:
        client = replace(client, audiences=resources + tuple(a for a in client.audiences
                                                             if a not in resources))
    return client


class ClientRegistry:
    """Client look-ups for a running proxy: the store plus the settings overlay."""

    CACHE_TTL = 2.0  # a client changed or removed with `run.py clients` takes effect within this

    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.settings = settings
        self._origins: tuple[float, set[str]] = (0.0, set())
        self._cache: dict[str, tuple[float, Client | None]] = {}
        self._verified: dict[str, tuple[str | None, str]] = {}  # client_id -> (secret digest, secret)

    async def get(self, client_id: str) -> Client | None:
        """A registered client, cached for CACHE_TTL seconds: every token request looks its client up,
        and a store read (a network round trip on Redis) per request would cost more than the rest."""
        if not client_id or len(client_id) > 200:
            return None
        now = time.monotonic()
        hit = self._cache.get(client_id)
        if hit is not None and hit[0] > now:
            return hit[1]
        record = await self.store.get(NS, client_id)
        client = overlay(Client.from_record(record), self.settings) if record else None
        if len(self._cache) > 1000:
            self._cache.clear()
        self._cache[client_id] = (now + self.CACHE_TTL, client)
        return client

    def _secret_ok(self, client: Client, secret: str) -> bool:
        """``secret_matches``, remembering the last secret that matched each client's current digest: the
        same secret again is one constant-time comparison instead of a SHA-256 (a changed secret, with a
        new digest, is checked in full)."""
        known = self._verified.get(client.client_id)
        if known is not None and known[0] == client.secret_sha256 and \
                secrets.compare_digest(known[1].encode(), secret.encode()):
            return True
        if not secret_matches(client, secret):
            return False
        if len(self._verified) > 1000:
            self._verified.clear()
        self._verified[client.client_id] = (client.secret_sha256, secret)
        return True

    async def all(self) -> list[Client]:
        return [overlay(Client.from_record(r), self.settings) for _, r in await self.store.list(NS)]

    async def cors_origins(self) -> set[str]:
        """Registered SPA origins, recomputed at most every 5 s (clients may be added while running)."""
        at, origins = self._origins
        if time.monotonic() - at > 5:
            origins = set()
            for c in await self.all():
                origins |= c.origins()
            self._origins = (time.monotonic(), origins)
        return origins

    async def authenticate(self, request: web.Request, params: dict[str, str]) -> Client:
        """RFC 6749 §2.3: identify and authenticate the client of a token/revoke/introspect request.

        Exactly one method: Basic header, or client_id (+ client_secret) in the body. A confidential client
        must present its secret; a public client must not present one."""
        basic = parse_basic(request)
        body_id, body_secret = params.get("client_id"), params.get("client_secret")
        if basic is not None:
            if body_secret is not None:
                raise InvalidRequest("client_secret_basic and client_secret_post used together (RFC 6749 §2.3)")
            client_id, secret = basic
            if body_id is not None and not secrets.compare_digest(body_id.encode(), client_id.encode()):
                raise InvalidRequest("client_id in the body differs from the authenticated client")
            scheme = "Basic"
        else:
            if body_id is None:
                raise InvalidClient("no client authentication and no client_id")
            client_id, secret, scheme = body_id, body_secret, "Basic"
        client = await self.get(client_id)
        if client is None:
            raise InvalidClient("unknown client", scheme=scheme)
        if client.confidential:
            if secret is None or not self._secret_ok(client, secret):
                raise InvalidClient("wrong or missing client secret", scheme=scheme)
        elif secret is not None:
            raise InvalidClient("a public client presented a secret", scheme=scheme)
        return client


def parse_basic(request: web.Request) -> tuple[str, str] | None:
    """RFC 6749 §2.3.1: ``Basic base64(urlencode(id):urlencode(secret))``; malformed -> invalid_client."""
    headers = request.headers.getall("Authorization", ())
    if not headers:
        return None
    if len(headers) > 1:
        raise InvalidRequest("several Authorization headers")
    scheme, _, value = headers[0].partition(" ")
    if scheme.lower() != "basic":
        raise InvalidClient(f"unsupported authentication scheme {scheme[:20]!r}")
    credentials = decode_basic(value)
    if credentials is None:
        raise InvalidClient("malformed Basic credentials")
    return credentials


@functools.lru_cache(maxsize=256)
def decode_basic(value: str) -> tuple[str, str] | None:
    """(client_id, secret) of a Basic credential, None if malformed. A pure function of the header value,
    memoised: a client sends the same header on every request."""
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    client_id, sep, secret = decoded.partition(":")
    if not sep or not client_id:
        return None
    return unquote_plus(client_id), unquote_plus(secret)
