"""Redis deployments of several real processes for tests, each in a temporary directory on free
127.0.0.1 ports, started by the test and killed after it:

- ``SentinelSet``: a master, two replicas and one sentinel (quorum 1, ``down-after-milliseconds`` 500)
  monitoring them as ``service``; ``kill_master()`` crashes the master and returns once the sentinel
  has promoted a replica and the other one follows it. ``url`` asks the store to have every write
  confirmed by one replica (``wait_for_replicas=1``). ``url`` is the ``redis+sentinel://`` store URL,
  listing an address where nothing listens before the sentinel (the store must try the next one).
- ``ClusterSet``: a Redis Cluster of three masters (``--cluster-enabled yes`` and
  ``redis-cli --cluster create``); ``url`` is the ``redis+cluster://`` store URL.
- ``redis_cluster_fixture`` and ``redis_sentinel_fixture``: session-scoped fixtures (``redis_cluster``,
  ``redis_sentinel``) to import into a test module.
"""
from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest
import redis

from tests.conftest import free_port

from .redis_util import RedisServer, require

SETTLE = 20.0  # seconds a deployment gets to settle before the test fails


def wait_for(what: str, condition, timeout: float = SETTLE) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if condition():
                return
        except (redis.RedisError, OSError):
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} within {timeout:.0f} s")
        time.sleep(0.05)


def client(port: int) -> redis.Redis:
    return redis.Redis(host="127.0.0.1", port=port, decode_responses=True, socket_timeout=2)


class Deployment:
    """Started on entering the block, killed on leaving it (also when the start fails half-way)."""

    def start(self):
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self):
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc) -> None:
        self.stop()


class SentinelSet(Deployment):
    def __init__(self, directory: Path, service: str = "oauthlab") -> None:
        self.dir = Path(directory)
        self.service = service
        self.sentinel_binary = require("redis-sentinel")
        quick = ("--repl-diskless-sync-delay", "0")  # the replica syncs at once, not after 5 s
        master = RedisServer(self.dir / "node-0", extra=quick)
        self.nodes = [master] + [RedisServer(self.dir / f"node-{i}", extra=(*quick, "--replicaof", "127.0.0.1",
                                                                            str(master.port)))
                                 for i in (1, 2)]
        self.sentinel_port = free_port()
        self.unused_port = free_port()  # nothing listens there
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        """Each write confirmed by one replica, so that a failover cannot lose it."""
        return (f"redis+sentinel://127.0.0.1:{self.unused_port},127.0.0.1:{self.sentinel_port}"
                f"/{self.service}/0?wait_for_replicas=1")

    def sentinel(self) -> redis.Redis:
        return client(self.sentinel_port)

    def master_port(self) -> int:
        return int(self.sentinel().sentinel_get_master_addr_by_name(self.service)[1])

    def _replicating(self, port: int, master: int) -> bool:
        info = client(port).info("replication")
        return (info["role"] == "slave" and int(info["master_port"]) == master
                and info["master_link_status"] == "up")

    @staticmethod
    def _acknowledged(master: int, replicas: int) -> bool:
        """The master counts ``replicas`` replicas that acknowledge its writes (what WAIT counts)."""
        c = client(master)
        c.set("oauthlab-test-probe", "1")
        return c.execute_command("WAIT", replicas, 100) >= replicas

    def start(self) -> SentinelSet:
        for node in self.nodes:
            node.start()
        master, replicas = self.nodes[0].port, [n.port for n in self.nodes[1:]]
        for replica in replicas:
            wait_for("a replica did not sync", lambda replica=replica: self._replicating(replica, master))
        wait_for("the master did not count its replicas", lambda: self._acknowledged(master, len(replicas)))
        conf = self.dir / "sentinel.conf"
        conf.write_text("\n".join([
            f"port {self.sentinel_port}", "bind 127.0.0.1", f"dir {self.dir}",
            f"logfile {self.dir / 'sentinel.log'}",
            f"sentinel monitor {self.service} 127.0.0.1 {master} 1",
            *(f"sentinel known-replica {self.service} 127.0.0.1 {replica}" for replica in replicas),
            f"sentinel down-after-milliseconds {self.service} 500",
            f"sentinel failover-timeout {self.service} 2000",
            f"sentinel parallel-syncs {self.service} 1", ""]))
        self.proc = subprocess.Popen([self.sentinel_binary, str(conf)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        wait_for("the sentinel did not find the replica",
                 lambda: len(self.sentinel().sentinel_slaves(self.service)) == len(replicas))
        return self

    def _failover_done(self, old: int) -> bool:
        """The sentinel's master entry (what clients are told) names another node, failover over."""
        state = self.sentinel().sentinel_masters()[self.service]
        return int(state["port"]) != old and "failover_in_progress" not in state["flags"]

    def kill_master(self) -> int:
        """Crash the master (SIGKILL); returns the new master's port once the sentinel has promoted a
        replica and the other replica follows it. The old master stays down."""
        old = self.master_port()
        next(n for n in self.nodes if n.port == old).kill()
        wait_for("the sentinel did not finish the failover", lambda: self._failover_done(old))
        new = self.master_port()
        other = next(n.port for n in self.nodes if n.port not in (old, new))
        wait_for("the new master did not take writes",
                 lambda: client(new).info("replication")["role"] == "master")
        wait_for("the other replica did not follow the new master", lambda: self._replicating(other, new))
        wait_for("the new master did not count its replica", lambda: self._acknowledged(new, 1))
        return new

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        for node in self.nodes:
            node.kill()



class ClusterSet(Deployment):
    def __init__(self, directory: Path, masters: int = 3) -> None:
        self.dir = Path(directory)
        self.cli = require("redis-cli")
        self.nodes = []
        for i in range(masters):
            d = self.dir / f"node-{i}"
            self.nodes.append(RedisServer(d, extra=(
                "--cluster-enabled", "yes", "--cluster-config-file", str(d / "nodes.conf"),
                "--cluster-node-timeout", "2000", "--cluster-port", str(free_port()))))

    @property
    def url(self) -> str:
        return "redis+cluster://" + ",".join(f"127.0.0.1:{n.port}" for n in self.nodes)

    def start(self) -> ClusterSet:
        for node in self.nodes:
            node.start()
        subprocess.run([self.cli, "--cluster", "create", *(f"127.0.0.1:{n.port}" for n in self.nodes),
                        "--cluster-replicas", "0", "--cluster-yes"], check=True, capture_output=True,
                       timeout=SETTLE)
        for node in self.nodes:
            wait_for(f"node {node.port} did not see the cluster ready",
                     lambda port=node.port: client(port).cluster("info")["cluster_state"] == "ok")
        return self

    def stop(self) -> None:
        for node in self.nodes:
            node.kill()


@pytest.fixture(name="redis_cluster", scope="session")
def redis_cluster_fixture(tmp_path_factory):
    """One Redis Cluster (three masters) for the session; tests keep apart by key prefix."""
    with ClusterSet(tmp_path_factory.mktemp("redis-cluster")) as cluster:
        yield cluster


@pytest.fixture(name="redis_sentinel", scope="session")
def redis_sentinel_fixture(tmp_path_factory):
    """One Sentinel deployment for the session (never failed over); tests keep apart by key prefix."""
    with SentinelSet(tmp_path_factory.mktemp("redis-sentinel")) as deployment:
        yield deployment
