"""Servers started at the same moment on one keys directory and one data directory (scripts, compose
files, systemd units and "one shell per server" all do this): every server comes up, they share one set
of keys and one store, and each default user and client exists once.

Real processes (``run.py serve NAME`` through cli/processes.py), all six launched back to back before any
is waited for, several rounds with fresh directories."""
from __future__ import annotations

import asyncio
import hashlib
import json
import secrets
import subprocess
import threading
import urllib.parse
import urllib.request
from pathlib import Path

from cli import SERVER_NAMES
from cli.processes import ROOT, free_port, serve_command, stop, wait_http
from servers.common import jwks, keys
from servers.common.store import SQLiteStore
from servers.common.store.redis import RedisStore

from .support.redis_util import RedisServer

ROUNDS = 3
PASSWORD_SERVERS = ("backend", "backend2", "backend3")  # password grant on the shared store


def launch(directory: Path, names, *extra: str) -> dict[str, tuple[str, subprocess.Popen, Path]]:
    """Start the servers without waiting in between; returns label -> (base URL, process, log). A name
    may come twice (``oauth-proxy#2``: a second instance); ``extra`` goes to every server."""
    ports = {name: free_port() for name in names}
    issuer = f"http://127.0.0.1:{ports.get('oauth-proxy', free_port())}"
    started = {}
    for label in names:
        name = label.split("#")[0]
        args = (*extra, "--upstream-issuer", issuer) if name in ("backend4", "frontend") else extra
        log = directory / f"{label.replace('#', '-')}.log"
        with open(log, "w") as out:
            proc = subprocess.Popen(serve_command(name, ports[label], directory, *args, log_level="warning"),
                                    cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
        started[label] = (f"http://127.0.0.1:{ports[label]}", proc, log)
    return started


def wait_all_up(servers) -> None:
    for name, (base, proc, log) in servers.items():
        try:
            wait_http(base + "/health", proc, timeout=60)
        except RuntimeError as exc:
            raise AssertionError(f"{name} did not come up: {exc}\n{log.read_text()[-1500:]}") from None


def stop_all(servers) -> None:
    for _base, proc, _log in servers.values():
        stop(proc)
    for name, (_base, _proc, log) in servers.items():
        assert "Traceback" not in log.read_text(), (name, log.read_text()[-1500:])


def check_one_set_of_keys(keys: Path) -> None:
    hs = json.loads((keys / "secrets.json").read_text())["hs256"]
    assert len(hs) == 1  # one HS256 secret for backend2 and backend3
    index = json.loads((keys / "oauth-proxy-jwks.json").read_text())
    pems = sorted(p.name for p in keys.glob("*.pem"))
    assert [e["file"] for e in index["keys"]] == pems and len(pems) == 1  # one RSA key, no orphan
    assert not [p.name for p in keys.iterdir() if p.name.startswith(".write-test")]


def check_seeded_once(users: list[str], clients: dict[str, dict], keys: Path) -> None:
    assert users == ["alice", "johndoe"]
    assert sorted(clients) == ["backend4-docs", "frontend", "m2m"]
    m2m_secret = (keys / "client-secret-m2m").read_text().strip()  # the secret the store knows
    assert clients["m2m"]["secret_sha256"] == hashlib.sha256(m2m_secret.encode()).hexdigest()


def password_login(base: str) -> int:
    form = urllib.parse.urlencode({"grant_type": "password", "username": "johndoe", "password": "secret"})
    req = urllib.request.Request(base + "/token", data=form.encode(), method="POST",
                                 headers={"Content-Type": "application/x-www-form-urlencoded"})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status
    except urllib.error.HTTPError as exc:
        return exc.code


def read_store(store) -> tuple[list[str], dict[str, dict]]:
    async def read():
        try:
            return ([u.username for u in await store.list_users()], dict(await store.list("clients")))
        finally:
            await store.close()
    return asyncio.run(read())


def check_one_round(directory: Path) -> None:
    servers = launch(directory, SERVER_NAMES)
    try:
        wait_all_up(servers)
        for name in PASSWORD_SERVERS:  # the seeded password hash is a valid one, wherever it was written
            assert password_login(servers[name][0]) == 200, name
    finally:
        stop_all(servers)
    check_one_set_of_keys(directory / "keys")
    users, clients = read_store(SQLiteStore(directory / "data" / "oauthlab.sqlite3"))
    check_seeded_once(users, clients, directory / "keys")


def test_six_servers_started_at_once_share_one_set_of_keys_and_one_seeded_store(tmp_path):
    """All six servers launched at the same moment on one keys and one data directory, three times over
    with fresh directories: each comes up (its /health answers), no start-up traceback, one HS256
    secret, one RSA key, the default users and clients each stored once, and the m2m secret kept in the
    keys directory is the one the store knows."""
    for round_ in range(ROUNDS):
        directory = tmp_path / f"round-{round_}"
        directory.mkdir()
        check_one_round(directory)


def test_instances_started_at_once_on_one_redis_seed_it_once(tmp_path):
    """Two oauth-proxy instances and backend2, backend3 launched at the same moment on one Redis store and
    one keys directory: all come up, one set of keys, each default user and client stored once in Redis,
    and the m2m secret in the keys directory is the one Redis knows."""
    with RedisServer(tmp_path / "redis") as redis:
        servers = launch(tmp_path, ("oauth-proxy", "oauth-proxy#2", "backend2", "backend3"),
                         "--store", redis.url)
        try:
            wait_all_up(servers)
            for name in ("backend2", "backend3"):
                assert password_login(servers[name][0]) == 200, name
        finally:
            stop_all(servers)
        check_one_set_of_keys(tmp_path / "keys")
        users, clients = read_store(RedisStore(redis.url))
    check_seeded_once(users, clients, tmp_path / "keys")
    assert not list(tmp_path.glob("data/*.sqlite3"))  # nothing went to a local store


def test_key_material_asked_for_at_once_is_created_once(tmp_path):
    """Sixteen threads (as in a process serving several apps, or tests) ask at the same moment for the
    HS256 keys, the RS256 key index and the m2m secret of one empty keys directory: each is created once
    and every caller gets that one (no caller keeps a key that was then overwritten)."""
    keys_dir = tmp_path / "keys"
    barrier = threading.Barrier(16)
    results: list[tuple[str, str, str]] = []
    errors: list[BaseException] = []

    def ask() -> None:
        try:
            barrier.wait()
            hs = keys.load_hs_keys(keys_dir)
            rs = jwks.ensure_keys(keys_dir)
            m2m = keys.read_or_create_private(keys_dir / "client-secret-m2m", lambda: secrets.token_hex(32))
            results.append((hs.signing_kid, rs["signing"], m2m))
        except BaseException as exc:  # reported below, with the thread's own traceback lost
            errors.append(exc)

    threads = [threading.Thread(target=ask) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(results) == 16 and len(set(results)) == 1
    hs_kid, rs_kid, m2m = results[0]
    assert [e["kid"] for e in keys.read_secrets(keys_dir)] == [hs_kid]
    assert [e["kid"] for e in jwks.read_index(keys_dir)["keys"]] == [rs_kid]
    assert len(list(keys_dir.glob("*.pem"))) == 1
    assert (keys_dir / "client-secret-m2m").read_text().strip() == m2m
