"""``RemoteJWKS``: the one cache of another issuer's published keys (RFC 8414 / OIDC discovery of the
``jwks_uri``, RFC 8725 §3.1 key/algorithm filter, rate-limited single-flight refetch, background refresh)."""
from __future__ import annotations

import asyncio
import logging
import math
import time
from typing import Any
from collections.abc import Callable

import aiohttp

from ..background import polling
from ..discovery import MAX_DOCUMENT_BYTES, DiscoveryError, check_http_url, discover, fetch_json
from ..errors import InvalidToken, TemporarilyUnavailable
from .jwk import ALG, ALG_FAMILIES, VerificationKey, usable_keys

log = logging.getLogger("oauthlab.jwks")


class RemoteJWKS:
    """Another issuer's signing keys, fetched from its ``jwks_uri`` (found by RFC 8414/OIDC discovery
    unless configured) and cached by ``kid``. Used by backend4, the proxy's token exchange and ``run.py flow``.

    - Only keys usable for ``algorithms`` are kept (``verification_key``); a token's key must suit the
      token's alg (``VerificationKey.usable_for``).
    - An unknown kid refetches at most once per ``refetch_interval`` (so forged kids cannot turn us into a
      load generator against the issuer), single-flight (concurrent callers wait for the fetch in flight).
    - Fetches are bounded (timeout, size, no redirects). If the issuer is down the cached keys keep serving;
      if we never had keys, ``resolve`` says 503 temporarily_unavailable (the token may be fine).
    - ``run()`` fetches in the background with backoff until it works, then every ``refresh_interval``;
      ``on_keys_removed(kids)`` is called when keys disappear or change (drop cached verifications then).
    - The URL comes from configuration or the issuer's own metadata, never from a token (RFC 8725 §3.10).
    """

    def __init__(self, issuer: str, jwks_uri: str | None = None, *, algorithms: tuple[str, ...] = (ALG,),
                 discover_metadata: bool | None = None, refetch_interval: float = 30.0,
                 retry_interval: float = 5.0, refresh_interval: float = 600.0, timeout: float = 5.0,
                 max_bytes: int = MAX_DOCUMENT_BYTES, clock: Callable[[], float] = time.monotonic) -> None:
        algorithms = tuple(algorithms)
        if not algorithms or not set(algorithms) <= set(ALG_FAMILIES):
            raise ValueError(f"algorithms must be asymmetric JWS algorithms, got {list(algorithms)}")
        self.issuer = issuer
        self.configured_jwks_uri = jwks_uri
        self.algorithms = algorithms
        # Metadata is needed for the jwks_uri unless configured; a caller may still want it (endpoints).
        self.discover_metadata = jwks_uri is None if discover_metadata is None else discover_metadata
        self.refetch_interval = refetch_interval  # an unknown kid refetches at most this often
        self.retry_interval = retry_interval  # while we have no keys at all
        self.refresh_interval = refresh_interval  # background refresh (drops removed keys)
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.clock = clock
        self.session: aiohttp.ClientSession | None = None
        self.metadata: dict | None = None
        self.keys: dict[str | None, VerificationKey] = {}
        self.fetched_at: float | None = None  # last success
        self.attempted_at = -math.inf  # last attempt, successful or not
        self.fetches = 0
        self.on_keys_removed: Callable[[set], None] | None = None
        self.on_metadata: Callable[[dict], None] | None = None
        self._lock = asyncio.Lock()

    @property
    def jwks_uri(self) -> str | None:
        if self.configured_jwks_uri:
            return self.configured_jwks_uri
        return self.metadata.get("jwks_uri") if self.metadata else None

    def _due(self) -> bool:
        interval = self.refetch_interval if self.fetched_at is not None else self.retry_interval
        return self.clock() - self.attempted_at >= interval

    async def _discover(self) -> None:
        """The issuer's metadata, until we have it; required only without a configured jwks_uri."""
        assert self.session is not None
        if self.metadata is not None or not self.discover_metadata:
            return
        try:
            meta = await discover(self.session, self.issuer, timeout=self.timeout)
            if not self.configured_jwks_uri:
                check_http_url(meta.get("jwks_uri"), "jwks_uri")
        except DiscoveryError:
            if self.configured_jwks_uri:
                return  # the metadata is optional then; tried again at the next fetch
            raise
        self.metadata = meta
        if self.on_metadata is not None:
            self.on_metadata(meta)

    async def fetch(self) -> bool:
        """Fetch the key set now (discovering first if needed). On failure keep what we had."""
        assert self.session is not None, "RemoteJWKS used without an HTTP session"
        self.attempted_at = self.clock()
        self.fetches += 1
        try:
            await self._discover()
            uri = self.jwks_uri
            if uri is None:
                raise DiscoveryError("no jwks_uri")
            document = await fetch_json(self.session, uri, timeout=self.timeout, max_bytes=self.max_bytes)
            keys = usable_keys(document, self.algorithms)
        except DiscoveryError as exc:
            log.warning("JWKS of %s unavailable (%s); %s", self.issuer, exc,
                        f"serving {len(self.keys)} cached key(s)" if self.keys else "no keys yet")
            return False
        removed = {kid for kid, old in self.keys.items()
                   if kid not in keys or keys[kid].material != old.material}
        self.keys = keys
        self.fetched_at = self.clock()
        log.info("JWKS of %s: %d usable key(s)", self.issuer, len(keys))
        if removed and self.on_keys_removed is not None:
            self.on_keys_removed(removed)
        return True

    async def fetch_locked(self) -> bool:
        async with self._lock:
            return await self.fetch()

    async def refetch_if_due(self) -> None:
        """One fetch at a time: a caller that finds a fetch in flight waits for it instead of starting
        another (so a request racing the start-up fetch is not turned away)."""
        if self._lock.locked():
            async with self._lock:
                return
        if not self._due():
            return
        async with self._lock:
            if self._due():
                await self.fetch()

    def pick(self, kid: str | None) -> VerificationKey | None:
        if kid is None and len(self.keys) == 1:  # RFC 7515 §4.1.4: kid is optional; one key is unambiguous
            return next(iter(self.keys.values()))
        return self.keys.get(kid) if kid is not None else None

    async def resolve(self, header: dict) -> Any:
        """A TokenVerifier key resolver: the key named by ``kid`` (refetching, rate-limited, if unknown),
        provided it is meant for the token's ``alg`` (RFC 8725 §3.1: "each key MUST be used with exactly one
        algorithm"; the verifier has checked alg against its policy)."""
        kid = header.get("kid")
        entry = self.pick(kid)
        if entry is None:
            await self.refetch_if_due()
            entry = self.pick(kid)
        if entry is None:
            if self.fetched_at is None:
                raise TemporarilyUnavailable("the issuer's keys could not be fetched yet", retry_after=5)
            raise InvalidToken("no key for this kid" if kid is not None else "no kid and several keys")
        if not entry.usable_for(header.get("alg")):
            raise InvalidToken(f"key {str(kid)[:40]!r} is not for alg {str(header.get('alg'))[:10]!r}")
        return entry.key

    async def run(self) -> None:
        """Background: fetch at start-up with backoff until it works, then refresh periodically."""
        delay = 1.0
        while True:
            if await self.fetch_locked():
                delay = 1.0
                await asyncio.sleep(self.refresh_interval)
            else:
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.refetch_interval)

    def running(self, session: aiohttp.ClientSession):
        """Use ``session`` and keep the keys fresh in the background while the block runs."""
        return polling(self, session)
