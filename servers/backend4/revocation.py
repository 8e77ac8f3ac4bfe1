"""The issuer's list of revoked access tokens, polled (oauth-proxy ``GET /revocations``).

A token whose jti is listed is 401 ``invalid_token`` at backend4 (RFC 6750 §3.1) although its signature and
claims still verify: revocation (RFC 7009) reaches a resource server that verifies tokens offline.
"""
from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable

import aiohttp

from servers.common.discovery import DiscoveryError, check_http_url, fetch_json_if_changed

log = logging.getLogger("oauthlab.backend4")

MAX_REVOCATION_LIST_BYTES = 4 * 1024 * 1024
MAX_JTI_LENGTH = 256


def revoked_entries(document: dict, issuer: str) -> dict[str, float]:
    """jti -> exp from a revocation list ``{"issuer", "revoked": [{"jti", "exp"}]}``; a list of another
    issuer is not used (the RFC 8414 §3.3 rule: trust nothing an issuer did not publish about itself); malformed entries are skipped (one bad entry must not hide the others)."""
    if "issuer" in document and document["issuer"] != issuer:
        raise DiscoveryError(f"revocation list of issuer {str(document['issuer'])[:80]!r}, not {issuer!r}")
    entries = document.get("revoked")
    if not isinstance(entries, list):
        raise DiscoveryError("the revocation list has no 'revoked' array")
    out: dict[str, float] = {}
    for e in entries:
        if not isinstance(e, dict):
            continue
        jti, exp = e.get("jti"), e.get("exp")
        if not isinstance(jti, str) or not 0 < len(jti) <= MAX_JTI_LENGTH:
            continue
        if isinstance(exp, bool) or not isinstance(exp, (int, float)) or not math.isfinite(exp):
            continue
        out[jti] = max(float(exp), out.get(jti, -math.inf))
    return out


class RevocationList:
    """The revoked access-token jtis the issuer publishes (oauth-proxy ``GET /revocations``, advertised as
    ``revocation_list_endpoint`` in its metadata, or ``--revocation-list-uri``), polled every ``interval``
    seconds with a conditional GET. Entries are kept until their token's ``exp`` (+ leeway), even if the
    list forgets them; when the issuer is down the last list keeps being applied."""

    def __init__(self, issuer: str, uri: str | None = None, *, interval: float = 5.0, leeway: float = 30.0,
                 timeout: float = 5.0, clock: Callable[[], float] = time.time) -> None:
        self.issuer = issuer
        self.configured_uri = uri
        self.discovered_uri: str | None = None
        self.interval = interval
        self.leeway = leeway
        self.timeout = timeout
        self.clock = clock
        self.session: aiohttp.ClientSession | None = None
        self.revoked: dict[str, float] = {}  # jti -> exp
        self.etag: str | None = None
        self.polls = 0
        self.polled_at: float | None = None  # last successful poll (wall clock)
        self.failing = False
        self.on_revoked: Callable[[set[str]], None] | None = None

    @property
    def uri(self) -> str | None:
        return self.configured_uri or self.discovered_uri

    def use_metadata(self, metadata: dict) -> None:
        """The endpoint from the issuer's (RFC 8414 §3.3-checked) metadata, unless one is configured."""
        try:
            self.discovered_uri = check_http_url(metadata.get("revocation_list_endpoint"),
                                                 "revocation_list_endpoint")
        except DiscoveryError:
            self.discovered_uri = None

    def is_revoked(self, jti: str) -> bool:
        return jti in self.revoked

    def prune(self) -> None:
        cutoff = self.clock() - self.leeway
        for jti in [j for j, exp in self.revoked.items() if exp < cutoff]:
            del self.revoked[jti]

    async def poll(self) -> bool:
        """One poll. Newly revoked jtis are reported to ``on_revoked``; a failure keeps the list we have."""
        uri = self.uri
        if uri is None or self.session is None:
            return False
        self.polls += 1
        try:
            doc, etag = await fetch_json_if_changed(self.session, uri, self.etag, timeout=self.timeout,
                                                    max_bytes=MAX_REVOCATION_LIST_BYTES)
            entries = revoked_entries(doc, self.issuer) if doc is not None else {}
        except DiscoveryError as exc:
            if not self.failing:  # once per outage, not every few seconds
                log.warning("revocation list unavailable (%s); applying the last one (%d jti(s))", exc,
                            len(self.revoked))
            self.failing = True
            return False
        if self.failing:
            log.info("revocation list reachable again")
            self.failing = False
        new = {jti for jti in entries if jti not in self.revoked}
        for jti, exp in entries.items():
            self.revoked[jti] = max(exp, self.revoked.get(jti, -math.inf))
        self.etag = etag
        self.prune()
        self.polled_at = self.clock()
        if new:
            log.info("revocation list: %d newly revoked token(s)", len(new))
            if self.on_revoked is not None:
                self.on_revoked(new)
        return True

    async def run(self) -> None:
        while True:
            await self.poll()
            await asyncio.sleep(self.interval)
