"""oauth-proxy on a Redis Cluster (``--store redis+cluster://...``): three real redis-server masters
joined with ``redis-cli --cluster create``, started by the test module. Two proxy instances share the
cluster and behave as one authorization server; the keys that one step uses together share a hash tag, so
every step runs on one node. (The store contract on the cluster: tests/test_store_contract.py.)"""
from __future__ import annotations

import asyncio

import pytest
import redis

from servers.common import pkce
from servers.common.store.redis import RedisStore

from .support.proxy_flow import code_via, http_fixture, introspect, proxies_fixture, redeem, refresh  # noqa: F401
from .support.redis_sets import ClusterSet
from .support.redis_util import unique_prefix

pytestmark = pytest.mark.redis


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    with ClusterSet(tmp_path_factory.mktemp("cluster")) as deployment:
        yield deployment


@pytest.fixture
def store_url(cluster):
    """Proxies use the default key prefix: each test starts from an empty cluster."""
    for node in cluster.nodes:
        redis.Redis(port=node.port).flushall()
    return cluster.url


async def test_code_from_one_instance_is_redeemed_once_at_the_other(proxies, http, tmp_path):
    """RFC 6749 §4.1.2: the code "MUST NOT be used more than once. If an authorization code is used more
    than once, the authorization server MUST deny the request and SHOULD revoke (when possible) all
    tokens previously issued based on that authorization code" - with the store spread over a cluster."""
    a, b = proxies
    verifier = pkce.new_verifier()
    code = await code_via(http, a, b, a, verifier)
    results = await asyncio.gather(*(redeem(http, (b, a)[i % 2], code, verifier) for i in range(6)))
    assert sorted(status for status, _ in results) == [200] + [400] * 5
    assert {body["error"] for status, body in results if status == 400} == {"invalid_grant"}
    tokens = next(body for status, body in results if status == 200)
    assert (await introspect(http, a, tokens["access_token"], tmp_path))["active"] is False


async def test_refresh_reuse_at_either_instance_revokes_the_family(proxies, http, tmp_path):
    """RFC 9700 §4.14.2: a rotated refresh token presented again reveals the breach; the family is
    revoked for both instances, its records being spread over the cluster's nodes."""
    a, b = proxies
    verifier = pkce.new_verifier()
    status, t0 = await redeem(http, b, await code_via(http, b, b, b, verifier), verifier)
    assert status == 200, t0
    status, t1 = await refresh(http, a, t0["refresh_token"])
    assert status == 200, t1
    status, body = await refresh(http, b, t0["refresh_token"])
    assert (status, body["error"]) == (400, "invalid_grant")
    status, body = await refresh(http, a, t1["refresh_token"])
    assert (status, body["error"]) == (400, "invalid_grant")
    assert (await introspect(http, b, t1["access_token"], tmp_path))["active"] is False


async def test_a_namespace_lives_in_one_slot_and_namespaces_spread_over_the_nodes(cluster):
    """Every multi-key step (a value and its namespace index; a user and the user set) is one script,
    which a cluster runs only when its keys share a slot; namespaces themselves land on several nodes."""
    store = RedisStore(cluster.url, prefix=unique_prefix())
    nodes = redis.RedisCluster(host="127.0.0.1", port=cluster.nodes[0].port)
    try:
        slot = nodes.keyslot
        namespaces = [f"family:{i}" for i in range(12)]
        for ns in namespaces:
            assert slot(store._kv(ns, "jti-1")) == slot(store._kv(ns, "other")) == slot(store._kvidx(ns))
        assert slot(store._user("johndoe")) == slot(store._users())
        owners = {nodes.get_node_from_key(store._kvidx(ns)).port for ns in namespaces}
        assert len(owners) > 1
    finally:
        nodes.close()
        await store.close()
