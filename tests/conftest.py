"""Shared test helpers: throwaway settings, free ports, and real servers in subprocesses."""
from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import replace
from pathlib import Path

import pytest

from servers.common.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
FAST_BCRYPT = 4  # tests only: the cost factor does not change behaviour, only time

os.environ.setdefault("OAUTHLAB_BCRYPT_ROUNDS", str(FAST_BCRYPT))


def make_settings(tmp_path: Path, name: str = "backend", **overrides) -> Settings:
    """Settings for an in-process app with its own throwaway data and keys."""
    base = Settings(name=name, port=9000, data_dir=tmp_path / "data", keys_dir=tmp_path / "keys",
                    bcrypt_rounds=FAST_BCRYPT)
    return replace(base, **overrides)


def free_port() -> int:
    with contextlib.closing(socket.socket()) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=1) as r:
                if r.status < 500:
                    return
        except Exception:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{url} did not come up in {timeout}s")
            time.sleep(0.1)


@contextlib.contextmanager
def live_server(name: str, tmp_path: Path, *args: str, port: int | None = None, env: dict | None = None):
    """Run ``python run.py serve NAME`` for real in a subprocess; yields its base URL."""
    port = port or free_port()
    logf = open(tmp_path / f"{name}-{port}.log", "w")
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "run.py"), "serve", name, "--port", str(port),
         "--data-dir", str(tmp_path / "data"), "--keys-dir", str(tmp_path / "keys"), *args],
        cwd=ROOT, stdout=logf, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})})
    base = f"http://127.0.0.1:{port}"
    try:
        wait_http(base + "/health")
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
        logf.close()


@pytest.fixture
def settings_factory(tmp_path):
    return lambda name="backend", **kw: make_settings(tmp_path, name, **kw)
