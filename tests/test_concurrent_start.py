"""Servers started at the same moment on one keys directory and one data directory (scripts, compose
files, systemd units and "one shell per server" all do this): every server comes up, they share one set
of keys and one store, and each default user and client exists once.

Real processes (``run.py serve NAME`` through cli/processes.py), all six launched back to back before any
is waited for, several rounds with fresh directories."""
from __future__ import annotations

import asyncio
import hashlib
import json
import subprocess
import urllib.parse
import urllib.request
from pathlib import Path

from cli import SERVER_NAMES
from cli.processes import ROOT, free_port, serve_command, stop, wait_http
from servers.common.store import SQLiteStore

ROUNDS = 3
PASSWORD_SERVERS = ("backend", "backend2", "backend3")  # password grant on the shared store


def launch_all(directory: Path) -> dict[str, tuple[str, subprocess.Popen, Path]]:
    """Start the six servers without waiting in between; returns name -> (base URL, process, log)."""
    ports = {name: free_port() for name in SERVER_NAMES}
    issuer = f"http://127.0.0.1:{ports['oauth-proxy']}"
    started = {}
    for name in SERVER_NAMES:
        extra = ("--upstream-issuer", issuer) if name in ("backend4", "frontend") else ()
        log = directory / f"{name}.log"
        with open(log, "w") as out:
            proc = subprocess.Popen(serve_command(name, ports[name], directory, *extra, log_level="warning"),
                                    cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
        started[name] = (f"http://127.0.0.1:{ports[name]}", proc, log)
    return started


def password_login(base: str) -> int:
    form = urllib.parse.urlencode({"grant_type": "password", "username": "johndoe", "password": "secret"})
    req = urllib.request.Request(base + "/token", data=form.encode(), method="POST",
                                 headers={"Content-Type": "application/x-www-form-urlencoded"})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status
    except urllib.error.HTTPError as exc:
        return exc.code


def read_store(data_dir: Path) -> tuple[list[str], dict[str, dict]]:
    async def read():
        store = SQLiteStore(data_dir / "oauthlab.sqlite3")
        try:
            return ([u.username for u in await store.list_users()], dict(await store.list("clients")))
        finally:
            await store.close()
    return asyncio.run(read())


def check_one_round(directory: Path) -> None:
    servers = launch_all(directory)
    try:
        for name, (base, proc, log) in servers.items():
            try:
                wait_http(base + "/health", proc, timeout=60)
            except RuntimeError as exc:
                raise AssertionError(f"{name} did not come up: {exc}\n{log.read_text()[-1500:]}") from None
        for name in PASSWORD_SERVERS:  # the seeded password hash is a valid one, wherever it was written
            assert password_login(servers[name][0]) == 200, name
    finally:
        for _base, proc, _log in servers.values():
            stop(proc)
    for name, (_base, _proc, log) in servers.items():
        assert "Traceback" not in log.read_text(), (name, log.read_text()[-1500:])

    keys = directory / "keys"
    hs = json.loads((keys / "secrets.json").read_text())["hs256"]
    assert len(hs) == 1  # one HS256 secret for backend2 and backend3
    index = json.loads((keys / "oauth-proxy-jwks.json").read_text())
    pems = sorted(p.name for p in keys.glob("*.pem"))
    assert [e["file"] for e in index["keys"]] == pems and len(pems) == 1  # one RSA key, no orphan
    assert not [p.name for p in keys.iterdir() if p.name.startswith(".write-test")]

    users, clients = read_store(directory / "data")
    assert users == ["alice", "johndoe"]
    assert sorted(clients) == ["backend4-docs", "frontend", "m2m"]
    m2m_secret = (keys / "client-secret-m2m").read_text().strip()
    assert clients["m2m"]["secret_sha256"] == hashlib.sha256(m2m_secret.encode()).hexdigest()


def test_six_servers_started_at_once_share_one_set_of_keys_and_one_seeded_store(tmp_path):
    """All six servers launched at the same moment on one keys and one data directory, three times over
    with fresh directories: each comes up (its /health answers), no start-up traceback, one HS256
    secret, one RSA key, the default users and clients each stored once, and the m2m secret kept in the
    keys directory is the one the store knows."""
    for round_ in range(ROUNDS):
        directory = tmp_path / f"round-{round_}"
        directory.mkdir()
        check_one_round(directory)
