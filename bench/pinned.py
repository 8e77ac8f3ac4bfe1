"""The pieces of a paired benchmark run: servers pinned to one CPU, the peers installed from the registries
when missing, and the bare RSA-2048 signing rate of the server CPU.

- ``pinned``: every server (ours and the peers) runs as ``taskset -c SERVER_CPU <command>``, so it has one
  core and never more; the load generator runs on the other core (``run_wrk(..., cpu=LOAD_CPU)``); with
  ``NICE`` set, all of them at that scheduling priority.
- ``ensure_python_peer`` installs the ``[bench]`` extra's packages (FastAPI, uvicorn) with pip when they
  are missing; ``ensure_node_peers`` runs ``npm ci`` in bench/peers/node (committed lockfile).
- ``sign_rate`` is the physical limit of a token endpoint: RS256 signatures per second of a bare
  ``cryptography`` loop pinned to the server CPU.
"""
from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from cli.processes import ROOT, free_port, serve_command, stop, wait_http

SERVER_CPU, LOAD_CPU = 0, 1
NODE_DIR = ROOT / "bench" / "peers" / "node"


class SetupError(Exception):
    """The machine cannot run the paired benchmark (a tool or a peer is missing)."""


def check_machine() -> None:
    """Two CPUs, taskset and wrk: the measurement is meaningless without them."""
    if len(os.sched_getaffinity(0)) < 2:
        raise SetupError("the paired benchmark needs two CPUs (one for the servers, one for the load)")
    for tool, package in (("taskset", "util-linux"), ("wrk", "wrk")):
        if shutil.which(tool) is None:
            raise SetupError(f"{tool} is not installed (apt-get install {package})")


# Scheduling priority of every measured process (servers, peers, signing loop, wrk): on a machine shared
# with other work, a raised priority keeps the measurement close to "one CPU each". None: unchanged.
NICE: int | None = None


def default_nice() -> int | None:
    """-10 when this process may raise priorities (root, CAP_SYS_NICE), else None."""
    try:
        return -10 if os.geteuid() == 0 else None
    except AttributeError:
        return None


# With REALTIME, every measured process runs under SCHED_RR (``chrt -r 10``): it takes its CPU from any
# ordinary process whenever it can run, so the number of threads a server has no longer decides how much
# of a shared CPU it gets. The kernel still leaves ordinary processes 5 % of each CPU.
REALTIME = False


def priority_prefix() -> list[str]:
    if REALTIME:
        return ["chrt", "-r", "10"]
    return ["nice", "-n", str(NICE)] if NICE is not None else []


def pinned(cmd: list[str], cpu: int = SERVER_CPU) -> list[str]:
    """``cmd`` pinned to ``cpu``, at the priority chosen (NICE or REALTIME)."""
    return [*priority_prefix(), "taskset", "-c", str(cpu), *cmd]


@contextlib.contextmanager
def run_pinned(name: str, cmd: list[str], health_url: str, workdir: Path, *, cwd: Path = ROOT,
               env: dict | None = None) -> Iterator[subprocess.Popen]:
    """Start ``cmd`` pinned to the server CPU, wait until ``health_url`` answers; stop it at the end."""
    log_path = Path(workdir) / f"{name}.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(pinned(cmd), cwd=cwd, stdout=log, stderr=subprocess.STDOUT,
                                env={**os.environ, **(env or {})})
        try:
            try:
                wait_http(health_url, proc, timeout=60)
            except RuntimeError as exc:
                log.flush()
                raise SetupError(f"{name}: {exc}: {log_path.read_text()[-600:]}") from None
            yield proc
        finally:
            stop(proc)


@contextlib.contextmanager
def our_server(name: str, workdir: Path, *extra: str, env: dict | None = None
               ) -> Iterator[tuple[str, subprocess.Popen]]:
    """``run.py serve NAME`` pinned to the server CPU, logging warnings only; yields (base URL, process)."""
    port = free_port()
    directory = Path(workdir) / name
    directory.mkdir(parents=True, exist_ok=True)
    base = f"http://127.0.0.1:{port}"
    cmd = serve_command(name, port, directory, *extra, log_level="warning")
    with run_pinned(name, cmd, base + "/health", workdir, env=env) as proc:
        yield base, proc


def bench_extra() -> list[str]:
    """The requirements of pyproject's ``[bench]`` extra."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return list(data["project"]["optional-dependencies"]["bench"])


def ensure_python_peer() -> None:
    """FastAPI, uvicorn and pwdlib for the tutorial app: installed from PyPI (the ``[bench]`` extra) if
    missing."""
    if all(importlib.util.find_spec(m) for m in ("fastapi", "multipart", "uvicorn", "pwdlib", "argon2")):
        return
    print("installing the [bench] extra (FastAPI, uvicorn) ...", file=sys.stderr, flush=True)
    done = subprocess.run([sys.executable, "-m", "pip", "install", "-q", *bench_extra()],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SetupError(f"pip could not install the [bench] extra: {done.stderr.strip()[-400:]}")


def ensure_node_peers() -> None:
    """node >= 20 and the locked oidc-provider + jose in bench/peers/node (``npm ci`` when missing)."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        raise SetupError("node (>= 20) and npm are needed for the node peers (apt-get install nodejs npm)")
    version = subprocess.run(["node", "--version"], capture_output=True, text=True, check=False).stdout.strip()
    if not version.startswith("v") or int(version[1:].split(".")[0]) < 20:
        raise SetupError(f"node {version} is too old: the peers need node >= 20")
    installed = NODE_DIR / "node_modules" / ".package-lock.json"
    lock = NODE_DIR / "package-lock.json"
    if installed.exists() and installed.stat().st_mtime >= lock.stat().st_mtime:
        return
    print("installing the node peers (npm ci in bench/peers/node) ...", file=sys.stderr, flush=True)
    done = subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=NODE_DIR,
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SetupError(f"npm ci failed in {NODE_DIR}: {done.stderr.strip()[-400:]}")


SIGN_LOOP = """
import sys, time
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
msg = b"eyJhbGciOiJSUzI1NiIsImtpZCI6Ii4uLiIsInR5cCI6ImF0K2p3dCJ9." + b"A" * 360  # an access token's size
pad, h = padding.PKCS1v15(), hashes.SHA256()
seconds, n = float(sys.argv[1]), 0
start, cpu = time.perf_counter(), time.process_time()
while time.perf_counter() - start < seconds:
    for _ in range(20):
        key.sign(msg, pad, h)
    n += 20
print(n / (time.perf_counter() - start), (time.process_time() - cpu) / n * 1e6)
"""


def sign_rate(seconds: float) -> tuple[float, float]:
    """RS256 (RSA-2048 PKCS#1 v1.5, SHA-256) signatures per second, one thread pinned to the server CPU,
    and the CPU microseconds per signature."""
    done = subprocess.run(pinned([sys.executable, "-c", SIGN_LOOP, str(seconds)]), capture_output=True,
                          text=True, timeout=seconds + 60, check=False)
    if done.returncode != 0:
        raise SetupError(f"the signing loop failed: {done.stderr.strip()[-300:]}")
    rate, cpu_us = done.stdout.split()
    return float(rate), float(cpu_us)


def node_command(script: str, *args: str) -> list[str]:
    return ["node", str(NODE_DIR / script), *args]


def json_post(url: str, body: str, headers: dict) -> dict:
    import urllib.request
    req = urllib.request.Request(url, data=body.encode(), headers=headers, method="POST")
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.load(r)
