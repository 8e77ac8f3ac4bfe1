"""The Redis store: the ``Store`` protocol (store/base.py) on a shared Redis - one server, a
Sentinel-managed master or a Redis Cluster (store/redis_client.py reads the URL) - so that several
oauth-proxy instances behind a load balancer see the same users, sessions, codes, refresh-token families,
revocations and throttling counters.

Rules it keeps (the same as the SQLite store, checked by tests/test_store_contract.py for each mode):
- ``consume`` is atomic across instances: one Lua script reads and deletes the value, so of any number of
  concurrent callers, on any number of instances, exactly one gets it (RFC 6749 §4.1.2: an authorization
  code "MUST NOT be used more than once"; RFC 9700 §4.14.2 refresh-token reuse detection relies on it).
- every operation on several keys is one Lua script whose keys share a hash tag, so it runs on one node
  in a Cluster too: a namespace's values and its index carry ``{ns:<len>:<ns>}``, the users and their
  set ``{users}``.
- expired entries are never returned: Redis expires keys itself (millisecond TTLs); each namespace also has
  a sorted-set index (member = key, score = expiry time) so that ``list(ns)`` needs no KEYS/SCAN.
- throttling events are a sorted set per key (score = time), trimmed to the window and expiring with it.
- Redis unavailable (refused, timed out, loading, read-only, out of disk, a failover or a cluster slot in
  transit) is ``errors.TemporarilyUnavailable``: the one error middleware answers 503 JSON with
  Retry-After, never a 500 and never a hang (short connect/read timeouts, one quick retry). redis-py
  reconnects by itself, to the new master after a failover: no restart needed.

Lifetime: the client and its pool are created in the constructor, which ``open_store`` calls inside the
app's ``cleanup_ctx`` (so inside the running loop that uses it); ``close()`` releases them.
"""
from __future__ import annotations

import asyncio
import functools
import json
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import fields, replace
from typing import Any, TypeVar

from redis import exceptions as rexc
from redis.asyncio.sentinel import MasterNotFoundError

from ..errors import TemporarilyUnavailable
from ..settings import ConfigError
from .base import User
from .redis_client import CLUSTER_SCHEMES, SENTINEL_SCHEMES, connect, redact, replica_acks, scheme_of

log = logging.getLogger("oauthlab.store")

CONNECT_TIMEOUT = 1.0  # seconds: a down Redis must cost a request little, never a hang
SOCKET_TIMEOUT = 1.0
RETRY_AFTER = 2  # seconds, told to clients in the 503's Retry-After

# Server replies that mean "Redis cannot serve right now" rather than "our command is wrong".
_UNAVAILABLE_REPLIES = ("LOADING", "MISCONF", "READONLY", "MASTERDOWN", "NOREPLICAS", "OOM", "BUSY",
                        "TRYAGAIN", "CLUSTERDOWN", "MOVED", "ASK")

_USER_FIELDS = tuple(f.name for f in fields(User))

# Create a user only if absent, and index it, in one step.
_ADD_USER = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
redis.call('SADD', KEYS[2], ARGV[1])
return 1
"""
# Change fields of an existing user only (never resurrect a deleted one); return the record.
_UPDATE_USER = """
if redis.call('EXISTS', KEYS[1]) == 0 then return nil end
if #ARGV > 0 then redis.call('HSET', KEYS[1], unpack(ARGV)) end
return redis.call('HGETALL', KEYS[1])
"""

# put with a TTL: the value, its index entry, and an index that lives as long as its longest-lived entry
# (namespaces such as family:<id> come and go: their index must not outlive them).
_PUT = """
local ms = tonumber(ARGV[2])
local now = tonumber(ARGV[4])
redis.call('SET', KEYS[1], ARGV[1], 'PX', ms)
redis.call('ZADD', KEYS[2], now + ms, ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. ARGV[4])
local top = redis.call('ZRANGE', KEYS[2], -1, -1, 'WITHSCORES')
if top[2] == 'inf' then
  redis.call('PERSIST', KEYS[2])
else
  redis.call('PEXPIRE', KEYS[2], math.ceil(tonumber(top[2]) - now) + 1000)
end
return 1
"""
# put without expiry: the index must not expire either.
_PUT_FOREVER = """
redis.call('SET', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[2], '+inf', ARGV[2])
redis.call('PERSIST', KEYS[2])
return 1
"""
# consume (read and delete in one step) and delete: the value and its index entry.
_CONSUME = """
local v = redis.call('GET', KEYS[1])
if v then redis.call('DEL', KEYS[1]) end
redis.call('ZREM', KEYS[2], ARGV[1])
return v
"""
_DELETE = """
local n = redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
return n
"""
# one throttling event: trim the window, add the event (unique member), expire with the window.
_ADD_EVENT = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return 1
"""

T = TypeVar("T")


def _unavailable_reply(exc: rexc.ResponseError) -> bool:
    return str(exc).split(" ", 1)[0].upper() in _UNAVAILABLE_REPLIES


_UNREACHABLE = (rexc.ConnectionError, rexc.TimeoutError, rexc.RedisClusterException, OSError, TimeoutError)


def guarded(method: Callable[..., Awaitable[T]]) -> Callable[..., Awaitable[T]]:
    """Map 'Redis cannot serve' to TemporarilyUnavailable (503); other errors are bugs and stay so.

    Behind Sentinel, a connection broken by a failover is retried once more from the start: the retry
    asks the sentinels for the master again (redis-py's own retry reconnects to the address it had). A
    repeated step is harmless: a consume that already took the value on the old master finds nothing."""
    @functools.wraps(method)
    async def wrapper(self: RedisStore, *args: Any, **kwargs: Any) -> T:
        try:
            if not self.ready:
                await self.initialize()
            try:
                return await method(self, *args, **kwargs)
            except _UNREACHABLE:
                if not self.follows_failover:
                    raise
                return await method(self, *args, **kwargs)
        except MasterNotFoundError:  # redis-py's message carries its client's repr: say it in one line
            reason = f"redis store {self.safe_url} unreachable: no sentinel answered with a master"
            raise TemporarilyUnavailable(reason, retry_after=RETRY_AFTER) from None
        except _UNREACHABLE as exc:
            reason = f"redis store {self.safe_url} unreachable: {exc.__class__.__name__}: {exc}"
            raise TemporarilyUnavailable(reason, retry_after=RETRY_AFTER) from None
        except rexc.ResponseError as exc:
            if _unavailable_reply(exc):
                raise TemporarilyUnavailable(f"redis store {self.safe_url} cannot serve: {exc}",
                                             retry_after=RETRY_AFTER) from None
            raise
    return wrapper


def _encode_user(user: User) -> dict[str, str]:
    return {"username": user.username, "full_name": user.full_name, "email": user.email,
            "scopes": " ".join(user.scopes), "disabled": "1" if user.disabled else "0",
            "password_hash": user.password_hash}


def _decode_user(h: dict[str, str]) -> User:
    return User(h["username"], h.get("full_name", ""), h.get("email", ""), tuple(h.get("scopes", "").split()),
                h.get("disabled") == "1", h.get("password_hash", ""))


class RedisStore:
    """The Store protocol on Redis, Redis Sentinel or Redis Cluster (URLs: store/redis_client.py).

    Key layout under ``prefix`` (default ``oauthlab:``); namespaces are length-prefixed so that no
    namespace/key pair can collide with another, and the braces are the Cluster hash tags:
      {users}:<username>           hash of the User fields     {users}           set of usernames
      {ns:<len(ns)>:<ns>}:<key>    JSON value, PX expiry       {ns:<len>:<ns>}   zset key -> expiry (ms, inf)
      ev:<key>                     zset of event times         {meta}            hash
    """

    def __init__(self, url: str, *, prefix: str = "oauthlab:", connect_timeout: float = CONNECT_TIMEOUT,
                 socket_timeout: float = SOCKET_TIMEOUT) -> None:
        self.url = url
        self.safe_url = redact(url)
        if "{" in prefix or "}" in prefix:
            raise ConfigError(f"the Redis key prefix {prefix!r} must not contain braces (hash tags)")
        self.prefix = prefix
        self.redis = connect(url, connect_timeout=connect_timeout, socket_timeout=socket_timeout,
                             client_name="oauthlab")
        self.follows_failover = scheme_of(url) in SENTINEL_SCHEMES
        # A Cluster client learns the slot map once before its first commands: concurrent first
        # commands would each start learning it and tear down each other's connections (redis-py).
        self.ready = scheme_of(url) not in CLUSTER_SCHEMES
        self._initializing: asyncio.Lock | None = None
        self.wait_replicas, self.wait_ms = replica_acks(url)
        # EVALSHA, reloaded by redis-py if a restarted Redis has forgotten them.
        script = self.redis.register_script
        self._add_user, self._update_user = script(_ADD_USER), script(_UPDATE_USER)
        self._put, self._put_forever = script(_PUT), script(_PUT_FOREVER)
        self._consume, self._delete, self._add_event = script(_CONSUME), script(_DELETE), script(_ADD_EVENT)

    async def initialize(self) -> None:
        """Learn the cluster's slot map, once, whoever asks first."""
        if self._initializing is None:
            self._initializing = asyncio.Lock()
        async with self._initializing:
            if not self.ready:
                await self.redis.initialize()
                self.ready = True

    async def _write(self, step: Any, *, keys: list[str] | None = None, args: list | None = None) -> Any:
        """One write: a script (``step`` with ``keys``/``args``) or ``step(client)``. With
        ``wait_for_replicas=N`` in the URL, the write is confirmed only once N replicas have it (WAIT on
        the same connection), so that a failover right after it cannot lose it; fewer acks in time is a
        503, and the caller's step did not happen for its client (a code or token is never handed out)."""
        def issue(target: Any) -> Any:
            return step(keys=keys, args=args, client=target) if keys is not None else step(target)
        if not self.wait_replicas:
            return await issue(self.redis)
        async with self.redis.pipeline(transaction=False) as pipe:
            await issue(pipe)
            pipe.execute_command("WAIT", self.wait_replicas, self.wait_ms)
            result, acked = await pipe.execute()
        if acked < self.wait_replicas:
            raise TemporarilyUnavailable(f"redis store {self.safe_url}: a write reached {acked} of "
                                         f"{self.wait_replicas} replicas in {self.wait_ms} ms",
                                         retry_after=RETRY_AFTER)
        return result

    # -- key names ------------------------------------------------------------------------------------
    # The hash tag (the part in braces) decides the cluster slot: keys used together in one script share it.
    def _user(self, username: str) -> str:
        return f"{self.prefix}{{users}}:{username}"

    def _users(self) -> str:
        return f"{self.prefix}{{users}}"

    def _kvidx(self, ns: str) -> str:
        return f"{self.prefix}{{ns:{len(ns)}:{ns}}}"

    def _kv(self, ns: str, key: str) -> str:
        return f"{self._kvidx(ns)}:{key}"

    def _ev(self, key: str) -> str:
        return f"{self.prefix}ev:{key}"

    # -- health -----------------------------------------------------------------------------------------
    @guarded
    async def ping(self) -> bool:
        return bool(await self.redis.ping())

    # -- users ------------------------------------------------------------------------------------------
    @guarded
    async def get_user(self, username: str) -> User | None:
        h = await self.redis.hgetall(self._user(username))
        return _decode_user(h) if h else None

    @guarded
    async def add_user(self, user: User) -> None:
        flat = [x for kv in _encode_user(user).items() for x in kv]
        added = await self._write(self._add_user, keys=[self._user(user.username), self._users()],
                                  args=[user.username, *flat])
        if not added:
            raise KeyError(user.username)

    @guarded
    async def update_user(self, username: str, **changes: Any) -> User | None:
        unknown = set(changes) - set(_USER_FIELDS)
        if unknown:
            raise TypeError(f"unknown user fields {sorted(unknown)}")
        # Encode through the dataclass so types are checked like the SQLite store's replace();
        # only the changed fields are written, and never the username (the record's key).
        encoded = _encode_user(replace(User(username), **changes))
        flat = [x for k in changes if k != "username" for x in (k, encoded[k])]
        raw = await self._write(self._update_user, keys=[self._user(username)], args=flat)
        if not raw:
            return None
        if isinstance(raw, dict):
            return _decode_user(raw)
        return _decode_user(dict(zip(raw[::2], raw[1::2])))

    @guarded
    async def list_users(self) -> list[User]:
        names = sorted(await self.redis.smembers(self._users()))
        if not names:
            return []
        async with self.redis.pipeline(transaction=False) as pipe:
            for n in names:
                pipe.hgetall(self._user(n))
            rows = await pipe.execute()
        return [_decode_user(h) for h in rows if h]

    # -- key/value with expiry ------------------------------------------------------------------------
    @guarded
    async def put(self, ns: str, key: str, value: dict, ttl: float | None = None) -> None:
        keys = [self._kv(ns, key), self._kvidx(ns)]
        if ttl is None:
            await self._write(self._put_forever, keys=keys, args=[json.dumps(value), key])
        elif ttl > 0:
            await self._write(self._put, keys=keys, args=[json.dumps(value), max(1, int(ttl * 1000)), key,
                                                          int(time.time() * 1000)])
        else:  # already expired: never visible
            await self._write(self._delete, keys=keys, args=[key])

    @guarded
    async def get(self, ns: str, key: str) -> dict | None:
        raw = await self.redis.get(self._kv(ns, key))
        return json.loads(raw) if raw is not None else None

    @guarded
    async def consume(self, ns: str, key: str) -> dict | None:
        # One script: of all concurrent callers, on every instance, exactly one sees the value.
        raw = await self._write(self._consume, keys=[self._kv(ns, key), self._kvidx(ns)], args=[key])
        return json.loads(raw) if raw is not None else None

    @guarded
    async def delete(self, ns: str, key: str) -> bool:
        return await self._write(self._delete, keys=[self._kv(ns, key), self._kvidx(ns)], args=[key]) > 0

    @guarded
    async def list(self, ns: str) -> list[tuple[str, dict]]:
        idx = self._kvidx(ns)
        keys = sorted(await self.redis.zrangebyscore(idx, f"({time.time() * 1000}", "+inf"))
        if not keys:
            return []
        values = await self.redis.mget([self._kv(ns, k) for k in keys])
        return [(k, json.loads(v)) for k, v in zip(keys, values) if v is not None]

    # -- event counters (throttling) ------------------------------------------------------------------
    @guarded
    async def add_event(self, key: str, window: float) -> None:
        now = time.time()
        member = f"{now!r}:{secrets.token_hex(4)}"  # unique per event
        await self._write(self._add_event, keys=[self._ev(key)],
                          args=[now - window, now, member, max(1, int(window * 1000)) + 1000])

    @guarded
    async def events(self, key: str, window: float) -> list[float]:
        rows = await self.redis.zrangebyscore(self._ev(key), f"({time.time() - window!r}", "+inf",
                                              withscores=True)
        return [float(score) for _member, score in rows]

    @guarded
    async def clear_events(self, key: str) -> None:
        await self._write(lambda target: target.delete(self._ev(key)))

    # -- meta -------------------------------------------------------------------------------------------
    @guarded
    async def get_meta(self, key: str) -> str | None:
        return await self.redis.hget(f"{self.prefix}{{meta}}", key)

    @guarded
    async def set_meta(self, key: str, value: str) -> None:
        await self._write(lambda target: target.hset(f"{self.prefix}{{meta}}", key, value))

    async def purge_expired(self) -> None:
        """Redis expires entries itself; nothing to do (kept for parity with SQLiteStore)."""

    async def close(self) -> None:
        try:
            await self.redis.aclose()
        except (rexc.RedisError, OSError) as exc:  # closing a pool to a dead server must not fail
            log.debug("closing the redis store: %s", exc)
