"""oauth-proxy on a Sentinel-managed Redis (``--store redis+sentinel://...``): real redis-server and
redis-sentinel processes (a master, two replicas, one sentinel) started by the test. The master is
crashed in the middle of a code+PKCE flow; the sentinel promotes a replica and the two proxy instances
carry on as one authorization server, with nothing issued before the crash lost."""
from __future__ import annotations

import pytest

from servers.common import pkce
from servers.common.store.redis import RedisStore

from .support.proxy_flow import code_via, http_fixture, introspect, proxies_fixture, redeem, refresh  # noqa: F401
from .support.redis_sets import SentinelSet

pytestmark = pytest.mark.redis


@pytest.fixture
def sentinel_set(tmp_path):
    with SentinelSet(tmp_path / "redis") as deployment:
        yield deployment


@pytest.fixture
def store_url(sentinel_set):
    return sentinel_set.url


async def test_a_failover_mid_flow_loses_no_code_and_no_refresh_family(sentinel_set, proxies, http, tmp_path):
    """RFC 6749 §4.1.2: the code "MUST NOT be used more than once"; RFC 9700 §4.14.2: a rotated refresh
    token presented again reveals the breach and the family is revoked. Both rest on the store: a code
    issued and a refresh family started before the master crashes are, after the failover, still
    redeemable once (at the other instance) and still detect reuse."""
    a, b = proxies
    v1 = pkce.new_verifier()
    status, t0 = await redeem(http, a, await code_via(http, a, b, a, v1), v1)  # family started on A
    assert status == 200, t0
    v2 = pkce.new_verifier()
    code = await code_via(http, b, b, b, v2)  # issued by B, not yet redeemed

    old_master = sentinel_set.master_port()
    assert sentinel_set.kill_master() != old_master

    status, t2 = await redeem(http, a, code, v2)  # the code survived, redeemed at the other instance
    assert status == 200, t2
    status, body = await redeem(http, b, code, v2)  # ... once
    assert (status, body["error"]) == (400, "invalid_grant")
    assert (await introspect(http, a, t2["access_token"], tmp_path))["active"] is False  # replay revoked it

    status, t1 = await refresh(http, b, t0["refresh_token"])  # the family survived: rotation at B
    assert status == 200, t1
    status, body = await refresh(http, a, t0["refresh_token"])  # reuse of the rotated token, at A
    assert (status, body["error"]) == (400, "invalid_grant")
    status, body = await refresh(http, b, t1["refresh_token"])  # ... revoked the whole family
    assert (status, body["error"]) == (400, "invalid_grant")


async def test_sentinel_store_follows_the_new_master_and_keeps_consume_once(sentinel_set):
    """RFC 6749 §4.1.2 "MUST NOT be used more than once", across a failover: a value put before the
    master crashes is consumed exactly once afterwards, by the same store instance (no restart)."""
    store = RedisStore(sentinel_set.url, prefix="t:")
    try:
        await store.put("code", "c1", {"sub": "johndoe"}, ttl=60)
        sentinel_set.kill_master()
        assert await store.consume("code", "c1") == {"sub": "johndoe"}
        assert await store.consume("code", "c1") is None
        await store.put("code", "c2", {"sub": "johndoe"}, ttl=60)  # writes go to the new master
        assert await store.get("code", "c2") == {"sub": "johndoe"}
    finally:
        await store.close()
