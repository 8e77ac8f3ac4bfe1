"""The storage protocol every store implements, and the ``User`` record.

Rules the implementations keep (checked for each of them by tests/test_store_contract.py):
- ``consume`` is atomic: of two concurrent callers for the same key, on any number of instances, exactly
  one gets the value (authorization codes, RFC 6749 §4.1.2 "MUST NOT be used more than once").
- expired entries are never returned.
- ``add_user`` creates a user only if absent (``KeyError`` otherwise): of several servers seeding the same
  store at once, one creates each user and the others see it there.
- everything survives a restart of the server (and, for Redis, of Redis with persistence on).
"""
from __future__ import annotations

import functools
import json
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class User:
    username: str
    full_name: str = ""
    email: str = ""
    scopes: tuple[str, ...] = ()
    disabled: bool = False
    password_hash: str = field(default="", repr=False)

    def public(self) -> dict[str, Any]:
        """What an API may show: never the password hash."""
        return {"username": self.username, "full_name": self.full_name, "email": self.email,
                "disabled": self.disabled}

    @functools.cached_property
    def public_json(self) -> bytes:
        """``public()`` serialised once per (cached) user record: /users/me is the hot path."""
        return json.dumps(self.public()).encode()


class Store(Protocol):
    async def get_user(self, username: str) -> User | None: ...
    async def add_user(self, user: User) -> None: ...
    async def update_user(self, username: str, **changes: Any) -> User | None: ...
    async def list_users(self) -> list[User]: ...
    async def put(self, ns: str, key: str, value: dict, ttl: float | None = None) -> None: ...
    async def get(self, ns: str, key: str) -> dict | None: ...
    async def consume(self, ns: str, key: str) -> dict | None: ...
    async def delete(self, ns: str, key: str) -> bool: ...
    async def list(self, ns: str) -> list[tuple[str, dict]]: ...
    async def add_event(self, key: str, window: float) -> None: ...
    async def events(self, key: str, window: float) -> list[float]: ...
    async def clear_events(self, key: str) -> None: ...
    async def get_meta(self, key: str) -> str | None: ...
    async def set_meta(self, key: str, value: str) -> None: ...
    async def close(self) -> None: ...


def user_to_dict(user: User) -> dict[str, Any]:
    d = asdict(user)
    d["scopes"] = list(user.scopes)
    return d
