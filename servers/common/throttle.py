"""Brute-force throttling of password logins (RFC 6749 §4.3.2: the authorization server MUST protect the
endpoint against brute force attacks; RFC 9700 §2.4).

``max_failures`` failed logins for one username, or from one client address, within ``window`` seconds
give 429 with Retry-After until the oldest counted failure leaves the window. Counters live in the store,
so they survive a restart and are shared by instances on a shared store.
"""
from __future__ import annotations

import time

from .errors import TooManyRequests
from .store import Store


class Throttle:
    def __init__(self, store: Store, max_failures: int = 5, window: int = 300) -> None:
        self.store = store
        self.max_failures = max_failures
        self.window = window

    @staticmethod
    def keys(username: str, address: str) -> tuple[str, str]:
        return (f"login-user:{username}", f"login-addr:{address}")

    async def check(self, username: str, address: str) -> None:
        """RFC 6749 §4.3.2: "the authorization server MUST protect the endpoint against brute force attacks":
        429 if either the username or the address has used up its failures."""
        now = time.time()
        retry = 0.0
        for key in self.keys(username, address):
            events = await self.store.events(key, self.window)
            if len(events) >= self.max_failures:
                # Blocked until enough failures age out for the count to drop below the limit.
                oldest_relevant = events[-self.max_failures]
                retry = max(retry, oldest_relevant + self.window - now)
        if retry > 0:
            raise TooManyRequests(int(retry) + 1, reason=f"login throttled for {username!r}/{address}")

    async def failed(self, username: str, address: str) -> None:
        for key in self.keys(username, address):
            await self.store.add_event(key, self.window)

    async def succeeded(self, username: str) -> None:
        """A successful login clears the username's counter (not the address's)."""
        await self.store.clear_events(self.keys(username, "")[0])
