"""``--store URL``: which store each URL opens, and a clear one-line configuration error (exit 2, the
password never shown) for a URL that cannot work. A store that cannot be reached is 503
temporarily_unavailable (RFC 6749 §5.2), whichever Redis deployment it is."""
from __future__ import annotations

import subprocess
import sys

import pytest

from servers.common.errors import TemporarilyUnavailable
from servers.common.settings import ConfigError
from servers.common.store import SQLiteStore, open_store
from servers.common.store.redis import RedisStore

from .conftest import ROOT, free_port


@pytest.mark.parametrize("url, mode", [
    ("redis://127.0.0.1:6379/0", "single"),
    ("rediss://127.0.0.1:6379/0", "single"),
    ("unix:///run/redis.sock?db=0", "single"),
    ("redis://127.0.0.1:6379/0?wait_for_replicas=1&wait_timeout_ms=200", "single"),
    ("redis+sentinel://127.0.0.1:26379,127.0.0.1:26380/mymaster", "sentinel"),
    ("redis+sentinel://:pw@127.0.0.1:26379/mymaster/2?sentinel_password=s&wait_for_replicas=1", "sentinel"),
    ("redis+sentinel://[::1]:26379,sentinel-b/mymaster", "sentinel"),
    ("redis+cluster://127.0.0.1:7000,127.0.0.1:7001", "cluster"),
    ("redis+cluster://127.0.0.1:7000/0", "cluster"),
    ("rediss+cluster://user:pw@127.0.0.1:7000", "cluster"),
])
async def test_redis_urls_open_the_redis_store(tmp_path, url, mode):
    """Each documented Redis URL form opens the Redis store (no connection is made until first use)."""
    store = open_store(tmp_path, url)
    try:
        assert isinstance(store, RedisStore)
        assert store.follows_failover is (mode == "sentinel")
        assert store.ready is (mode != "cluster")  # a cluster's slot map is learnt on first use
    finally:
        await store.close()


def test_default_and_sqlite_urls_open_sqlite(tmp_path):
    """No --store: SQLite under the data directory; sqlite:PATH: that file."""
    default = open_store(tmp_path)
    explicit = open_store(tmp_path, f"sqlite:{tmp_path / 'x.db'}")
    try:
        assert isinstance(default, SQLiteStore) and default.path == tmp_path / "oauthlab.sqlite3"
        assert isinstance(explicit, SQLiteStore) and explicit.path == tmp_path / "x.db"
    finally:
        default.db.close()
        explicit.db.close()


@pytest.mark.parametrize("url, says", [
    ("memcached://127.0.0.1:11211", "--store must be sqlite:PATH or a Redis URL"),
    ("redis+sentinel://:hunter2@127.0.0.1:26379", "give the monitored service"),
    ("redis+sentinel://127.0.0.1:26379/mymaster/zero", "database 'zero' is not a number"),
    ("redis+sentinel://127.0.0.1:26379/mymaster?colour=blue", "unknown option(s) colour"),
    ("redis+sentinel://:hunter2@/mymaster", "no host:port given"),
    ("redis+cluster://127.0.0.1:7000/3", "a Redis Cluster has one database (0)"),
    ("redis+cluster://127.0.0.1:seven", "'127.0.0.1:seven' is not host:port"),
    ("redis+cluster://127.0.0.1:70000", "is not host:port"),
    ("redis+cluster://127.0.0.1:7000?wait_for_replicas=1", "wait_for_replicas is for one server or Sentinel"),
    ("redis://:hunter2@127.0.0.1:6379/0?wait_for_replicas=two", "are numbers"),
])
def test_a_store_url_that_cannot_work_is_a_configuration_error(tmp_path, url, says):
    """A malformed store URL is refused at start-up with a message naming what is wrong - and never the
    password it carries."""
    with pytest.raises(ConfigError) as info:
        open_store(tmp_path, url)
    assert says in str(info.value)
    assert "hunter2" not in str(info.value)


def test_cli_with_a_bad_store_url_exits_2_with_one_line(tmp_path):
    """CLI: a configuration error is one line on stderr and exit code 2, no traceback."""
    proc = subprocess.run([sys.executable, str(ROOT / "run.py"), "users", "list", "--data-dir", str(tmp_path),
                           "--store", "redis+cluster://:hunter2@127.0.0.1:7000/3"],
                          cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().splitlines() == [
        ("error: --store redis+cluster://:***@127.0.0.1:7000/3: a Redis Cluster has one database (0); "
         "give redis+cluster://host:port[,host:port...]")]


@pytest.mark.parametrize("scheme", ["redis+sentinel", "redis+cluster"])
async def test_no_reachable_node_is_temporarily_unavailable(scheme):
    """No sentinel (or no cluster node) answers: the store raises TemporarilyUnavailable, which every
    server answers as 503 temporarily_unavailable with Retry-After (RFC 6749 §5.2), never a 500."""
    hosts = f"127.0.0.1:{free_port()},127.0.0.1:{free_port()}"
    store = RedisStore(f"{scheme}://{hosts}" + ("/mymaster" if scheme == "redis+sentinel" else ""),
                       connect_timeout=0.2, socket_timeout=0.2)
    try:
        with pytest.raises(TemporarilyUnavailable) as info:
            await store.get("code", "k")
        assert info.value.status == 503 and info.value.extra_headers["Retry-After"] == "2"
        assert "unreachable" in str(info.value) and "<redis" not in str(info.value)  # one readable line
    finally:
        await store.close()
