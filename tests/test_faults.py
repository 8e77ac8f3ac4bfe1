"""Faults: a down or frozen Redis, a read-only or full data/keys directory, a store that
cannot be opened, and a server restarted mid-flow. Real servers in subprocesses (``run.py serve``), a
real redis-server, real read-only and full filesystems (a private mount namespace when running as root,
where file modes do not stop writes)."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from servers.common.errors import TemporarilyUnavailable
from servers.common.store.redis import RedisStore

from .conftest import ROOT, free_port, live_server
from .support.redis_util import RedisServer, assert_temporarily_unavailable, unique_prefix

HANG_LIMIT = 10  # seconds: an answer slower than this counts as a hang (the store's timeouts are ~1 s)


def http(method: str, url: str, *, token: str | None = None, form: dict | None = None):
    """One request; returns (status, headers, JSON body or None). Fails the test on a hang."""
    data = urllib.parse.urlencode(form).encode() if form is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    if form is not None:
        req.add_header("Content-Type", "application/x-www-form-urlencoded")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=HANG_LIMIT) as r:
            status, headers, body = r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        status, headers, body = e.code, e.headers, e.read()
    try:
        parsed = json.loads(body) if body else None
    except ValueError:
        parsed = None
    return status, headers, parsed


def login(base: str, username: str = "johndoe", password: str = "secret") -> str:
    status, _, body = http("POST", base + "/token",
                           form={"grant_type": "password", "username": username, "password": password})
    assert status == 200, body
    return body["access_token"]


# -- Redis down ---------------------------------------------------------------------------------------
def test_redis_down_is_503_temporarily_unavailable_and_the_server_recovers_by_itself(tmp_path):
    """Redis down: the server answers 503 with a JSON error (never a 500 or a hang) and recovers by itself
    when Redis returns. RFC 6749 §5.2 / §4.1.2.1 temporarily_unavailable; nothing is lost: the
    token issued before the outage still works after it (Redis restarted from its append-only file)."""
    with RedisServer(tmp_path / "redis", persist=True) as redis_srv, \
            live_server("backend", tmp_path, "--store", redis_srv.url) as base:
        token = login(base)
        assert http("GET", base + "/users/me", token=token)[0] == 200

        redis_srv.kill()
        assert_temporarily_unavailable(*http("GET", base + "/users/me", token=token))
        assert_temporarily_unavailable(*http("POST", base + "/token", form={
            "grant_type": "password", "username": "johndoe", "password": "secret"}))
        assert http("GET", base + "/health")[0] == 200  # liveness does not depend on the store

        redis_srv.start()  # same port, same data: no server restart
        status, _, body = http("GET", base + "/users/me", token=token)
        assert (status, body["username"]) == (200, "johndoe")
        assert http("GET", base + "/users/me", token=login(base))[0] == 200


def test_frozen_redis_is_503_not_a_hang(tmp_path):
    """A Redis that accepts connections but never answers (SIGSTOP) must not hang requests: the store's
    read timeout turns it into 503 temporarily_unavailable; after SIGCONT service resumes."""
    with RedisServer(tmp_path / "redis") as redis_srv, \
            live_server("backend", tmp_path, "--store", redis_srv.url) as base:
        token = login(base)
        os.kill(redis_srv.proc.pid, signal.SIGSTOP)
        try:
            assert_temporarily_unavailable(*http("GET", base + "/users/me", token=token))
        finally:
            os.kill(redis_srv.proc.pid, signal.SIGCONT)
        assert http("GET", base + "/users/me", token=token)[0] == 200


async def test_redis_store_raises_temporarily_unavailable_then_reconnects(tmp_path):
    """The store itself: every operation on a down Redis raises TemporarilyUnavailable (which the error
    middleware renders as 503), and the same instance works again once Redis is back."""
    with RedisServer(tmp_path / "redis") as redis_srv:
        store = RedisStore(redis_srv.url, prefix=unique_prefix())
        try:
            await store.put("code", "c", {"v": 1}, ttl=60)
            redis_srv.kill()
            calls = [store.get_user("johndoe"), store.put("code", "d", {}), store.get("code", "c"),
                     store.consume("code", "c"), store.list("code"), store.add_event("k", 60),
                     store.events("k", 60), store.get_meta("seeded")]
            for call in calls:
                with pytest.raises(TemporarilyUnavailable) as info:
                    await call
                assert info.value.status == 503 and info.value.error == "temporarily_unavailable"
                assert "Retry-After" in info.value.headers()
            redis_srv.start()
            await store.put("code", "c", {"v": 2}, ttl=60)
            assert await store.consume("code", "c") == {"v": 2}
        finally:
            await store.close()


# -- start-up errors ----------------------------------------------------------------------------------
def serve_once(tmp_path: Path, *args: str, wrap: list[str] | None = None, name: str = "backend",
               data_dir: Path | None = None, keys_dir: Path | None = None) -> subprocess.CompletedProcess:
    """Start ``run.py serve`` and expect it to refuse to start (it must exit, not serve)."""
    cmd = [sys.executable, str(ROOT / "run.py"), "serve", name, "--port", str(free_port()),
           "--data-dir", str(data_dir or tmp_path / "data"), "--keys-dir", str(keys_dir or tmp_path / "keys"),
           *args]
    if wrap:
        cmd = [*wrap, " ".join(f"'{c}'" for c in cmd)]
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=30)


def assert_one_line_config_error(proc: subprocess.CompletedProcess, *needles: str) -> None:
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-2000:])
    assert "Traceback" not in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, proc.stderr
    for n in needles:
        assert n in errors[0], errors[0]


def unwritable_mount(directory: Path, how: str) -> list[str]:
    """A command prefix that runs the rest with ``directory`` unwritable: read-only (``ro``) or full
    (``full``). As root (file modes do not stop root) it mounts a tmpfs there in a private mount
    namespace; otherwise chmod 0555 does for read-only."""
    directory.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        if how == "full":
            pytest.skip("a full filesystem needs a private mount namespace (root)")
        directory.chmod(0o555)
        return ["sh", "-c"]
    if not shutil.which("unshare"):
        pytest.skip("unshare (util-linux) is needed to mount a read-only/full tmpfs as root")
    probe = subprocess.run(["unshare", "-m", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"cannot create a mount namespace here: {probe.stderr.decode()[:200]}")
    d = str(directory)
    if how == "ro":
        setup = f"mount -t tmpfs -o ro,size=64k none '{d}'"
    else:  # full: a 16 KiB tmpfs filled to the last byte
        setup = f"mount -t tmpfs -o size=16k none '{d}' && (cat /dev/zero > '{d}/fill' 2>/dev/null; true)"
    return ["unshare", "-m", "sh", "-c", f"{setup} && exec \"$0\" \"$@\"", "sh", "-c"]


@pytest.mark.parametrize("which", ["data", "keys"])
def test_read_only_directory_is_a_one_line_startup_error_exit_2(tmp_path, which):
    """A full disk or read-only data directory is a clear start-up error: one line naming the directory, exit code 2 (configuration error), no traceback, no server."""
    target = tmp_path / which
    proc = serve_once(tmp_path, wrap=unwritable_mount(target, "ro"))
    assert_one_line_config_error(proc, str(target), "not writable")


def test_full_data_directory_is_a_one_line_startup_error_exit_2(tmp_path):
    """A full disk under the data directory is the same clear start-up error (ENOSPC)."""
    target = tmp_path / "data"
    proc = serve_once(tmp_path, wrap=unwritable_mount(target, "full"))
    assert_one_line_config_error(proc, str(target), "not writable")
    assert "space" in proc.stderr.lower()


def test_store_that_cannot_be_opened_is_a_config_error(tmp_path):
    """A --store that cannot be opened (SQLite file under a missing/unwritable place, Redis not
    listening, malformed URL, unknown scheme) is a one-line configuration error with exit 2."""
    assert_one_line_config_error(serve_once(tmp_path, "--store", "sqlite:/proc/oauthlab/none/x.db"),
                                 "cannot open the data store")
    dead = f"redis://127.0.0.1:{free_port()}/0"
    assert_one_line_config_error(serve_once(tmp_path, "--store", dead),
                                 "store is unavailable at start-up", dead)
    assert_one_line_config_error(serve_once(tmp_path, "--store", "redis://127.0.0.1:notaport/0"), "--store")
    assert_one_line_config_error(serve_once(tmp_path, "--store", "mongodb://x"), "--store")


def test_redis_password_never_appears_in_errors(tmp_path):
    """No secret in logs: a Redis URL's password is redacted in the start-up error."""
    url = f"redis://default:s3cr3t-pw@127.0.0.1:{free_port()}/0"
    proc = serve_once(tmp_path, "--store", url)
    assert_one_line_config_error(proc, "default:***@")
    assert "s3cr3t-pw" not in proc.stderr + proc.stdout


# -- restart mid-flow ---------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["backend", "backend2"])
def test_restart_mid_flow_loses_no_token_or_user_sqlite(tmp_path, name):
    """A server restarted mid-flow loses no refresh token, client or user. backend's opaque
    tokens live in SQLite, backend2's HS256 secret in keys/: both survive a restart on the same dirs, and
    a user disabled before the restart stays disabled."""
    port = free_port()
    with live_server(name, tmp_path, port=port) as base:
        token = login(base)
        assert http("GET", base + "/users/me", token=token)[0] == 200
    with live_server(name, tmp_path, port=port) as base:
        status, _, body = http("GET", base + "/users/me", token=token)
        assert (status, body["username"]) == (200, "johndoe")
        status, _, body = http("POST", base + "/token", form={
            "grant_type": "password", "username": "alice", "password": "secret2"})
        assert (status, body["error"]) == (400, "invalid_grant")  # the seeded disabled user, not reseeded


def test_restart_mid_flow_loses_no_token_redis(tmp_path):
    """The same on the Redis store: a backend restarted between login and use still honours the token."""
    with RedisServer(tmp_path / "redis") as redis_srv:
        port = free_port()
        with live_server("backend", tmp_path, "--store", redis_srv.url, port=port) as base:
            token = login(base)
        with live_server("backend", tmp_path, "--store", redis_srv.url, port=port) as base:
            status, _, body = http("GET", base + "/users/me", token=token)
            assert (status, body["username"]) == (200, "johndoe")


# -- the users command on Redis ---------------------------------------------------------------------------
def run_cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "run.py"), *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=30, env={**os.environ, **(env or {})})


def test_users_command_with_redis_down_is_a_one_line_error_exit_2(tmp_path):
    """`run.py users list --store redis://...` with nothing listening: one line, exit 2, no traceback."""
    dead = f"redis://127.0.0.1:{free_port()}/0"
    proc = run_cli("users", "list", "--data-dir", str(tmp_path / "data"), "--store", dead)
    assert_one_line_config_error(proc, "unreachable", dead)


def test_user_added_to_redis_by_the_cli_logs_in_at_a_server_on_that_redis(tmp_path):
    """Users live in the shared store: one added with `run.py users add --store redis://...` can log in at
    any server on that Redis, and a password login stays one bcrypt check away (RFC 6749 §4.3.2)."""
    with RedisServer(tmp_path / "redis") as redis_srv:
        proc = run_cli("users", "add", "bob", "--store", redis_srv.url, "--data-dir", str(tmp_path / "data"),
                       "--full-name", "Bob", "--email", "bob@example.com",
                       env={"OAUTHLAB_PASSWORD": "bob-secret-1"})
        assert proc.returncode == 0, proc.stderr
        with live_server("backend", tmp_path, "--store", redis_srv.url) as base:
            token = login(base, "bob", "bob-secret-1")
            status, _, body = http("GET", base + "/users/me", token=token)
            assert (status, body["username"], body["email"]) == (200, "bob", "bob@example.com")
        assert "bob" in run_cli("users", "list", "--store", redis_srv.url,
                                "--data-dir", str(tmp_path / "data")).stdout
