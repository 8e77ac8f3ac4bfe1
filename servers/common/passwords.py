"""Password checks with bcrypt, always in a thread executor so the event loop keeps serving.

An unknown username still costs one bcrypt check against a dummy hash of the same cost, so the response
time does not tell which usernames exist (no timing oracle, no enumeration).
"""
from __future__ import annotations

import asyncio
import secrets

import bcrypt

from .store import Store, User

MAX_PASSWORD_BYTES = 72  # bcrypt's limit; longer inputs are refused rather than silently truncated


def hash_password(password: str, rounds: int = 12) -> str:
    """Synchronous: for the CLI and for seeding. Servers use ``hash_password_async``."""
    data = password.encode("utf-8")
    if len(data) > MAX_PASSWORD_BYTES:
        raise ValueError("passwords are limited to 72 bytes (bcrypt)")
    return bcrypt.hashpw(data, bcrypt.gensalt(rounds)).decode("ascii")


async def hash_password_async(password: str, rounds: int = 12) -> str:
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(None, hash_password, password, rounds)


def _check(password: bytes, hashed: bytes) -> bool:
    try:
        return bcrypt.checkpw(password, hashed)
    except ValueError:
        return False


class PasswordChecker:
    """Authenticates username/password against the store, off the event loop, in constant work."""

    def __init__(self, store: Store, dummy_hash: str) -> None:
        self.store = store
        self._dummy = dummy_hash.encode("ascii")

    @classmethod
    async def create(cls, store: Store, rounds: int = 12) -> "PasswordChecker":
        """A hash of a random password at the same cost as real ones, so the unknown-user path does
        equal work; computed in the executor like every bcrypt call."""
        return cls(store, await hash_password_async(secrets.token_urlsafe(16), rounds))

    async def authenticate(self, username: str, password: str) -> User | None:
        """RFC 6749 §10.10: "the authorization server MUST prevent attackers from guessing access tokens,
        authorization codes, refresh tokens, resource owner passwords": the user if the password is right and
        the account enabled, else None; one outcome for all, and an unknown user costs one bcrypt check."""
        user = await self.store.get_user(username)
        data = password.encode("utf-8")
        ok = False
        hashed = user.password_hash.encode("ascii") if user else self._dummy
        if len(data) <= MAX_PASSWORD_BYTES:
            loop = asyncio.get_running_loop()
            ok = await loop.run_in_executor(None, _check, data, hashed)
        if not ok or user is None or user.disabled:
            return None
        return user
