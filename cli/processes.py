"""Our servers as real processes: ``run.py serve NAME`` in a subprocess on a free port with its own data
and keys, waited for until /health answers. Used by the conformance runner, the API fuzzer, the benchmarks
and the tests, so that there is one way to start a server for real."""
from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Iterator

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with contextlib.closing(socket.socket()) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, proc: subprocess.Popen | None = None, timeout: float = 30.0) -> None:
    """Poll ``url`` until it answers below 500; fail early if ``proc`` exited."""
    deadline = time.monotonic() + timeout
    while True:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"the server exited with status {proc.returncode} before {url} answered")
        try:
            with urllib.request.urlopen(url, timeout=1) as r:
                if r.status < 500:
                    return
        except urllib.error.HTTPError as exc:
            if exc.code < 500:
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} did not answer within {timeout:.0f} s")
        time.sleep(0.05)


def serve_command(name: str, port: int, directory: Path, *extra: str, log_level: str | None = None) -> list[str]:
    cmd = [sys.executable, str(ROOT / "run.py"), "serve", name, "--port", str(port),
           "--data-dir", str(Path(directory) / "data"), "--keys-dir", str(Path(directory) / "keys")]
    if log_level:
        cmd += ["--log-level", log_level]
    return [*cmd, *extra]


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


@contextlib.contextmanager
def serve(name: str, directory: Path, *extra: str, port: int | None = None, env: dict | None = None,
          log_level: str | None = "warning", log_path: Path | None = None
          ) -> Iterator[tuple[str, subprocess.Popen]]:
    """Run one server until the block ends; yields (base URL, process). Its output goes to ``log_path``
    (default ``directory/NAME-PORT.log``); on a failed start the log's tail is in the error."""
    port = port or free_port()
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    log_path = log_path or directory / f"{name}-{port}.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(serve_command(name, port, directory, *extra, log_level=log_level), cwd=ROOT,
                                stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})})
        base = f"http://127.0.0.1:{port}"
        try:
            try:
                wait_http(base + "/health", proc)
            except RuntimeError as exc:
                log.flush()
                raise RuntimeError(f"{name}: {exc}: {log_path.read_text()[-800:]}") from None
            yield base, proc
        finally:
            stop(proc)
