"""Real, throwaway Redis processes for tests (Debian's redis-server, redis-sentinel, redis-cli; no mock),
on free 127.0.0.1 ports with their files in a temporary directory, killed at the end.

- ``RedisServer(tmp_dir)``: one server. By default it persists nothing (``--save "" --appendonly no``);
  ``persist=True`` turns on the append-only file with ``appendfsync always`` so that even a SIGKILL loses
  no acknowledged write (restart tests). ``start()``, ``stop()`` (SIGTERM), ``kill()`` (SIGKILL, a crash),
  ``restart()``; ``url`` for the store.
- ``SentinelSet(tmp_dir)``: a master, a replica and a sentinel monitoring them (redis_sets.py).
- ``ClusterSet(tmp_dir)``: a Redis Cluster of three masters (redis_sets.py).
- ``assert_temporarily_unavailable(status, headers, body)``: the 503 a client sees while Redis is down.
- ``redis_server_fixture``: a session-scoped fixture (``redis_server``, import it into a test module)
  sharing one server.
- ``require(binary)``: the path of a Redis binary, or skip - unless ``OAUTHLAB_REQUIRE_REDIS=1`` (CI),
  where a missing binary fails the test instead.
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from tests.conftest import free_port


def require(binary: str = "redis-server") -> str:
    """The path of a Redis binary, or skip (or fail when OAUTHLAB_REQUIRE_REDIS=1)."""
    path = shutil.which(binary)
    if path:
        return path
    package = {"redis-cli": "redis-tools"}.get(binary, binary)
    msg = f"{binary} is not installed (apt-get install {package})"
    if os.environ.get("OAUTHLAB_REQUIRE_REDIS") == "1":
        pytest.fail(msg + " and OAUTHLAB_REQUIRE_REDIS=1", pytrace=False)
    pytest.skip(msg)


def require_redis_server() -> str:
    return require("redis-server")


def _ping(port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(b"PING\r\n")
            return s.recv(64).startswith(b"+PONG")
    except OSError:
        return False


class RedisServer:
    def __init__(self, directory: Path, *, port: int | None = None, persist: bool = False,
                 unix_socket: bool = False, extra: tuple[str, ...] = ()) -> None:
        self.binary = require_redis_server()
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.persist = persist
        # A unix socket instead of TCP (the port is still used, only to check readiness, on 127.0.0.1).
        self.socket = self.dir / "redis.sock" if unix_socket else None
        self.extra = tuple(extra)
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        if self.socket is not None:
            return f"unix://{self.socket}?db=0"
        return f"redis://127.0.0.1:{self.port}/0"

    def command(self) -> list[str]:
        cmd = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.dir),
               "--save", "", "--protected-mode", "yes", "--daemonize", "no", "--loglevel", "warning",
               "--logfile", str(self.dir / "redis.log")]
        if self.socket is not None:
            cmd += ["--unixsocket", str(self.socket), "--unixsocketperm", "700"]
        if self.persist:
            cmd += ["--appendonly", "yes", "--appendfsync", "always"]
        else:
            cmd += ["--appendonly", "no"]
        return cmd + list(self.extra)

    def start(self, timeout: float = 10.0) -> RedisServer:
        if self.running:
            return self
        self.proc = subprocess.Popen(self.command(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while not _ping(self.port):
            if self.proc.poll() is not None:
                log = (self.dir / "redis.log").read_text(errors="replace")[-2000:] \
                    if (self.dir / "redis.log").exists() else ""
                raise RuntimeError(f"redis-server exited with {self.proc.returncode}: {log}")
            if time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f"redis-server on port {self.port} did not answer in {timeout}s")
            time.sleep(0.02)
        return self

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def _end(self, sig: int) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def stop(self) -> None:
        """Graceful shutdown (SIGTERM)."""
        self._end(signal.SIGTERM)

    def kill(self) -> None:
        """A crash (SIGKILL): only what was already written to disk survives."""
        self._end(signal.SIGKILL)

    def restart(self) -> RedisServer:
        self.stop()
        return self.start()

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.kill()


@pytest.fixture(name="redis_server", scope="session")
def redis_server_fixture(tmp_path_factory):
    """One throwaway redis-server for the whole session (nothing persisted); killed at the end."""
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    try:
        yield server
    finally:
        server.kill()


def assert_temporarily_unavailable(status, headers, body) -> None:
    """What a client must see while the store's Redis cannot serve: 503 JSON temporarily_unavailable
    with Retry-After (RFC 6749 §5.2), never a 500."""
    assert status == 503, (status, body)
    assert body["error"] == "temporarily_unavailable"
    assert int(headers["Retry-After"]) >= 1
    assert headers["Content-Type"].startswith("application/json")


def unique_prefix() -> str:
    """A key prefix of its own for one test, so tests sharing a server never see each other's keys."""
    return f"t{uuid.uuid4().hex[:12]}:"
