"""What every server's application shares: typed app keys, the store/passwords/throttle lifetime
(``cleanup_ctx``), the default users, /health, and the event loop the servers run on."""
from __future__ import annotations

import asyncio
import logging
import os
from contextlib import asynccontextmanager
from typing import AsyncIterator

from aiohttp import web

from .errors import TemporarilyUnavailable
from .passwords import PasswordChecker, hash_password_async
from .settings import ConfigError, Settings
from .store import Store, User, open_store
from .throttle import Throttle

log = logging.getLogger("oauthlab.app")

SETTINGS = web.AppKey("settings", Settings)
STORE = web.AppKey("store", Store)
PASSWORDS = web.AppKey("passwords", PasswordChecker)
THROTTLE = web.AppKey("throttle", Throttle)

# The tutorial's users: johndoe/secret (enabled, scopes "me items") and alice/secret2 (disabled).
DEFAULT_USERS = (
    (User("johndoe", "John Doe", "johndoe@example.com", ("me", "items"), False), "secret"),
    (User("alice", "Alice Wonderson", "alice@example.com", ("me", "items"), True), "secret2"),
)


async def seed_users(store: Store, rounds: int) -> bool:
    """Create the default users once, on the first start of a new store (never again after that).
    Servers starting at the same moment on one store may all get here: ``add_user`` creates a user only
    if absent, so one of them creates each user and the others find it there."""
    if await store.get_meta("seeded"):
        return False
    for user, password in DEFAULT_USERS:
        if await store.get_user(user.username) is None:
            h = await hash_password_async(password, rounds)
            try:
                await store.add_user(User(user.username, user.full_name, user.email, user.scopes,
                                          user.disabled, h))
            except KeyError:  # another server created it in the meantime: that one stays
                pass
    await store.set_meta("seeded", "1")
    return True


def store_context(settings: Settings, *, seed: bool = True):
    """cleanup_ctx: open the store (seeded on first start), the password checker and the throttle."""
    @asynccontextmanager
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        store = open_store(settings.data_dir, settings.store_url)
        try:
            try:
                ping = getattr(store, "ping", None)  # a networked store (Redis): reachable at start?
                if ping is not None:
                    await ping()
                if seed and await seed_users(store, settings.bcrypt_rounds):
                    log.info("new store: seeded users johndoe (enabled) and alice (disabled)")
            except TemporarilyUnavailable as exc:  # at start-up: a clear one-line error, exit 2
                raise ConfigError(f"the store is unavailable at start-up: {exc.reason}") from None
            app[STORE] = store
            app[PASSWORDS] = await PasswordChecker.create(store, settings.bcrypt_rounds)
            app[THROTTLE] = Throttle(store, settings.throttle_max_failures, settings.throttle_window)
            yield
        finally:
            await store.close()
    return ctx


async def health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def new_event_loop(use_uvloop: bool = True) -> tuple[asyncio.AbstractEventLoop, str]:
    """The event loop to serve on, and its name: uvloop's when it is installed (the ``[speed]`` extra) and
    neither ``use_uvloop=False`` (``run.py serve --no-uvloop``) nor ``OAUTHLAB_UVLOOP=0`` turns it off;
    else asyncio's. Both behave the same; uvloop spends less CPU per request."""
    if use_uvloop and os.environ.get("OAUTHLAB_UVLOOP", "1") not in ("0", "false", "no", "off"):
        try:
            import uvloop
        except ImportError:
            pass
        else:
            return uvloop.new_event_loop(), "uvloop"
    return asyncio.new_event_loop(), "asyncio"
