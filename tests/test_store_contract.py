"""The Store protocol's contract, checked on every implementation: the embedded SQLite store and the
Redis store on one redis-server, on a Sentinel-managed master (every write confirmed by a replica) and on
a Redis Cluster of three masters (real throwaway processes, see tests/support/). Whatever a server keeps in
its store (opaque tokens, authorization codes, refresh-token families, throttling counters, users) relies
on these rules, whichever backend an operator picks."""
from __future__ import annotations

import asyncio
import threading
import time

import pytest

from servers.common.errors import TooManyRequests
from servers.common.store.redis import RedisStore
from servers.common.store import SQLiteStore, User, open_store
from servers.common.throttle import Throttle

from .support.redis_sets import redis_cluster_fixture, redis_sentinel_fixture  # noqa: F401 - fixtures
from .support.redis_util import RedisServer, redis_server_fixture, unique_prefix  # noqa: F401 - fixture

BACKENDS = ["sqlite", "redis", "redis-sentinel", "redis-cluster"]
REDIS_FIXTURES = {"redis": "redis_server", "redis-sentinel": "redis_sentinel", "redis-cluster": "redis_cluster"}


@pytest.fixture(params=BACKENDS)
def backend(request):
    return request.param


@pytest.fixture
def open_instance(backend, tmp_path, request):
    """A factory of store instances over ONE shared backing store (one SQLite file, or one Redis with one
    key prefix): each call is like another server process opening the same store."""
    opened = []
    if backend in REDIS_FIXTURES:
        server = request.getfixturevalue(REDIS_FIXTURES[backend])
        prefix = unique_prefix()

        def make():
            s = RedisStore(server.url, prefix=prefix)
            opened.append(s)
            return s
    else:
        path = tmp_path / "store.sqlite3"

        def make():
            s = SQLiteStore(path)
            opened.append(s)
            return s
    yield make
    for s in opened:
        # Stores opened in the test's loop are closed by the `store` fixture or the test itself.
        if isinstance(s, SQLiteStore):
            s.db.close()


@pytest.fixture
async def store(open_instance):
    s = open_instance()
    yield s
    await s.close()


def user(name: str = "johndoe", **kw) -> User:
    base = dict(full_name="John Doe", email="johndoe@example.com", scopes=("me", "items"), disabled=False,
                password_hash="$2b$04$abcdefghijklmnopqrstuuJ2x0sT8Zq1XkqQK3c9yq2bJ6c5dJ0dW")
    base.update(kw)
    return User(name, **base)


# -- consume-once -----------------------------------------------------------------------------------
async def test_consume_is_atomic_exactly_one_of_100_concurrent_consumers_wins(open_instance):
    """RFC 6749 §4.1.2: the authorization code "MUST NOT be used more than once". Of 100 concurrent
    consumers, spread over 4 instances opened on the same store, exactly one gets each value."""
    stores = [open_instance() for _ in range(4)]
    try:
        for round_ in range(5):
            key = f"code-{round_}"
            await stores[0].put("code", key, {"sub": "johndoe", "round": round_}, ttl=60)
            results = await asyncio.gather(*(stores[i % 4].consume("code", key) for i in range(100)))
            winners = [r for r in results if r is not None]
            assert winners == [{"sub": "johndoe", "round": round_}]
            assert await stores[1].get("code", key) is None
    finally:
        for s in stores:
            await s.close()


def test_sqlite_consume_is_atomic_across_threads_and_connections(tmp_path):
    """RFC 6749 §4.1.2 "MUST NOT be used more than once", with real concurrency: 100 consumers in 10
    threads, each thread with its own SQLite connection (like several processes on one data dir)."""
    path = tmp_path / "store.sqlite3"
    seed = SQLiteStore(path)
    asyncio.run(seed.put("code", "k", {"v": 1}, ttl=60))
    wins: list[dict] = []
    lock = threading.Lock()
    barrier = threading.Barrier(10)

    def worker():
        s = SQLiteStore(path)
        barrier.wait()
        got = [asyncio.run(s.consume("code", "k")) for _ in range(10)]
        s.db.close()
        with lock:
            wins.extend(g for g in got if g is not None)

    threads = [threading.Thread(target=worker) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seed.db.close()
    assert wins == [{"v": 1}]


async def test_consume_of_a_missing_key_is_none(store):
    """A code that was never issued (or already used) yields nothing: the caller answers invalid_grant."""
    assert await store.consume("code", "never-issued") is None


# -- expiry -------------------------------------------------------------------------------------------
async def test_expired_entries_are_never_returned(store):
    """RFC 6749 §4.1.2: codes are short-lived ("maximum ... of 10 minutes"); an expired entry is gone for
    get, consume and list."""
    await store.put("code", "short", {"v": "short"}, ttl=0.3)
    await store.put("code", "long", {"v": "long"}, ttl=60)
    await store.put("code", "forever", {"v": "forever"})
    assert await store.get("code", "short") == {"v": "short"}
    assert [k for k, _ in await store.list("code")] == ["forever", "long", "short"]
    await asyncio.sleep(0.45)
    assert await store.get("code", "short") is None
    assert await store.consume("code", "short") is None
    assert await store.list("code") == [("forever", {"v": "forever"}), ("long", {"v": "long"})]
    assert await store.get("code", "long") == {"v": "long"}


async def test_a_non_positive_ttl_is_never_visible(store):
    """An entry whose lifetime is already over must not be returned, not even once."""
    await store.put("code", "dead", {"v": 1}, ttl=0)
    await store.put("code", "dead2", {"v": 2}, ttl=-5)
    assert await store.get("code", "dead") is None
    assert await store.consume("code", "dead2") is None
    assert await store.list("code") == []


async def test_put_replaces_the_value_and_its_expiry(store):
    """Rewriting a key (a rotated session) replaces both value and lifetime."""
    await store.put("session", "s", {"n": 1}, ttl=0.2)
    await store.put("session", "s", {"n": 2}, ttl=60)
    await asyncio.sleep(0.3)
    assert await store.get("session", "s") == {"n": 2}


# -- key/value ----------------------------------------------------------------------------------------
async def test_namespaces_are_separate_and_cannot_collide(store):
    """A key in one namespace is invisible in another, even when ns:key strings would concatenate alike."""
    await store.put("a:b", "c", {"which": 1})
    await store.put("a", "b:c", {"which": 2})
    assert await store.get("a:b", "c") == {"which": 1}
    assert await store.get("a", "b:c") == {"which": 2}
    assert await store.list("a") == [("b:c", {"which": 2})]
    assert await store.list("a:b") == [("c", {"which": 1})]
    assert await store.get("other", "c") is None


async def test_delete_reports_whether_something_was_deleted(store):
    """Revocation (RFC 7009 §2.2) deletes once; a second delete finds nothing."""
    await store.put("refresh", "r1", {"family": "f"}, ttl=60)
    assert await store.delete("refresh", "r1") is True
    assert await store.delete("refresh", "r1") is False
    assert await store.get("refresh", "r1") is None
    assert await store.list("refresh") == []


async def test_values_round_trip_as_json(store):
    """What is put is what is read: nested JSON, unicode, numbers, booleans and null."""
    value = {"sub": "jöhn", "scopes": ["me", "items"], "n": 3, "f": 1.5, "ok": True, "none": None,
             "nested": {"a": [1, {"b": "c"}]}}
    await store.put("x", "k/with spaces:and*glob?[chars]", value, ttl=60)
    assert await store.get("x", "k/with spaces:and*glob?[chars]") == value
    assert await store.list("x") == [("k/with spaces:and*glob?[chars]", value)]


# -- users ------------------------------------------------------------------------------------------
async def test_users_crud(store):
    """Users are created once, read back whole, changed field by field and listed by name."""
    await store.add_user(user("johndoe"))
    await store.add_user(user("alice", full_name="Alice Wonderson", disabled=True, scopes=()))
    assert await store.get_user("johndoe") == user("johndoe")
    assert await store.get_user("nobody") is None
    with pytest.raises(KeyError):
        await store.add_user(user("johndoe", full_name="Impostor"))
    assert (await store.get_user("johndoe")).full_name == "John Doe"

    changed = await store.update_user("johndoe", disabled=True, scopes=("me",), password_hash="$2b$04$new")
    assert changed == user("johndoe", disabled=True, scopes=("me",), password_hash="$2b$04$new")
    assert await store.get_user("johndoe") == changed
    assert await store.update_user("nobody", disabled=True) is None
    assert await store.get_user("nobody") is None

    listed = await store.list_users()
    assert [u.username for u in listed] == ["alice", "johndoe"]
    assert listed[0] == user("alice", full_name="Alice Wonderson", disabled=True, scopes=())
    assert "password_hash" not in listed[1].public()


async def test_meta_values(store):
    """Meta (the 'seeded' mark) is absent until set, then kept."""
    assert await store.get_meta("seeded") is None
    await store.set_meta("seeded", "1")
    await store.set_meta("seeded", "2")
    assert await store.get_meta("seeded") == "2"


# -- throttling counters ----------------------------------------------------------------------------
async def test_events_are_counted_within_the_window_only(store):
    """RFC 6749 §4.3.2: brute-force protection counts failures in a sliding window."""
    t0 = time.time()
    for _ in range(3):
        await store.add_event("login-user:johndoe", 300)
    events = await store.events("login-user:johndoe", 300)
    assert len(events) == 3
    assert events == sorted(events)
    assert all(t0 - 1 <= e <= time.time() + 1 for e in events)
    assert await store.events("login-user:alice", 300) == []
    await asyncio.sleep(0.3)
    await store.add_event("login-user:johndoe", 300)
    assert len(await store.events("login-user:johndoe", 0.2)) == 1  # the older three are outside 0.2 s
    await store.clear_events("login-user:johndoe")
    assert await store.events("login-user:johndoe", 300) == []


async def test_throttle_counts_failures_across_instances(open_instance):
    """RFC 6749 §4.3.2 "MUST protect the endpoint against brute force attacks": failures counted at two
    instances on one store add up, and the limit then holds at both."""
    a, b = open_instance(), open_instance()
    try:
        ta, tb = Throttle(a, max_failures=4, window=60), Throttle(b, max_failures=4, window=60)
        await ta.failed("johndoe", "10.0.0.1")
        await tb.failed("johndoe", "10.0.0.2")
        await ta.failed("johndoe", "10.0.0.3")
        await ta.check("johndoe", "10.0.0.9")  # 3 failures: still allowed
        await tb.failed("johndoe", "10.0.0.4")
        for t in (ta, tb):
            with pytest.raises(TooManyRequests) as info:
                await t.check("johndoe", "10.0.0.9")
            assert 1 <= info.value.retry_after <= 61
        await tb.succeeded("johndoe")
        await ta.check("johndoe", "10.0.0.9")
    finally:
        await a.close()
        await b.close()


# -- restart persistence ------------------------------------------------------------------------------
async def _write_everything(s) -> None:
    await s.add_user(user("johndoe"))
    await s.put("refresh", "family-1", {"sub": "johndoe", "gen": 3}, ttl=3600)
    await s.put("client", "c1", {"redirect_uris": ["http://127.0.0.1/cb"]})
    await s.put("code", "used", {"sub": "johndoe"}, ttl=600)
    assert await s.consume("code", "used") is not None
    await s.add_event("login-user:johndoe", 300)
    await s.set_meta("seeded", "1")


async def _check_everything(s) -> None:
    assert await s.get_user("johndoe") == user("johndoe")
    assert await s.get("refresh", "family-1") == {"sub": "johndoe", "gen": 3}
    assert await s.list("client") == [("c1", {"redirect_uris": ["http://127.0.0.1/cb"]})]
    assert await s.consume("code", "used") is None  # a consumed code stays consumed
    assert len(await s.events("login-user:johndoe", 300)) == 1
    assert await s.get_meta("seeded") == "1"


async def test_sqlite_store_loses_nothing_on_restart(tmp_path):
    """A server restarted mid-flow loses no refresh token, client, user or throttling counter: the SQLite
    file is reopened by a new process-like instance."""
    path = tmp_path / "data" / "oauthlab.sqlite3"
    s = open_store(tmp_path / "data")
    assert isinstance(s, SQLiteStore) and s.path == path
    await _write_everything(s)
    await s.close()
    s2 = open_store(tmp_path / "data")
    try:
        await _check_everything(s2)
    finally:
        await s2.close()


async def test_redis_store_loses_nothing_when_redis_crashes_and_restarts(tmp_path):
    """The same with Redis: the server is killed (SIGKILL, no shutdown save) and restarted from its
    append-only file in a temporary directory; the store instance reconnects by itself."""
    with RedisServer(tmp_path / "redis", persist=True) as server:
        s = RedisStore(server.url, prefix=unique_prefix())
        try:
            await _write_everything(s)
            server.kill()
            server.start()
            await _check_everything(s)  # the same instance: its pool reconnects without a restart
        finally:
            await s.close()
        s2 = RedisStore(server.url, prefix=s.prefix)
        try:
            await _check_everything(s2)
        finally:
            await s2.close()


async def test_redis_store_leaves_nothing_behind_once_entries_expire(redis_server):
    """Namespaces such as ``family:<id>`` come and go: once their entries expire, no key of theirs (value
    or index) may stay in Redis, or a long-running proxy would leak memory."""
    s = RedisStore(redis_server.url, prefix=unique_prefix())
    try:
        await s.put("family:abc", "jti-1", {"exp": 1}, ttl=0.2)
        await s.put("family:abc", "jti-2", {"exp": 2}, ttl=0.3)
        await s.add_event("login-user:x", 0.2)
        await s.put("forever", "k", {"v": 1})
        await s.put("forever", "short", {"v": 2}, ttl=0.1)
        assert await s.redis.keys(s.prefix + "*")
        await asyncio.sleep(1.6)  # the index outlives its last entry by at most one second
        assert await s.redis.keys(s.prefix + "{ns:12:family:abc}*") == []
        left = sorted(await s.redis.keys(s.prefix + "*"))
        assert left == sorted([s._kv("forever", "k"), s._kvidx("forever")])
        assert await s.redis.pttl(s._kvidx("forever")) == -1  # a persistent entry keeps its index
    finally:
        await s.close()


async def test_redis_store_over_a_unix_socket(tmp_path):
    """--store unix:///path/redis.sock?db=0 selects the same store over a local socket."""
    with RedisServer(tmp_path / "r", unix_socket=True) as server:
        s = open_store(tmp_path, server.url)
        assert isinstance(s, RedisStore)
        try:
            await s.put("code", "k", {"v": 1}, ttl=60)
            assert await s.consume("code", "k") == {"v": 1}
            assert await s.consume("code", "k") is None
        finally:
            await s.close()
