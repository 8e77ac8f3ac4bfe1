"""Shared benchmark tools: start a server in a second process, load it from another, report ratios.

Load comes from wrk (Debian package) when it is installed, else from a Python aiohttp load generator in a
separate process. Absolute numbers on a shared 2-core machine are noise: compare ratios within one run.
"""
from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cli.processes import free_port, serve, wait_http  # noqa: E402,F401 - re-exported for the benches


@contextlib.contextmanager
def server(name: str, *args: str, workdir: Path | None = None, env: dict | None = None):
    """``run.py serve NAME`` on a free port with throwaway data and keys; yields (base_url, workdir, proc)."""
    tmp = Path(workdir or tempfile.mkdtemp(prefix=f"oauthlab-bench-{name}-"))
    with serve(name, tmp, *args, env=env, log_level="warning") as (base, proc):
        yield base, tmp, proc


def password_token(base: str, scope: str | None = None) -> str:
    body = "grant_type=password&username=johndoe&password=secret" + (f"&scope={scope}" if scope else "")
    req = urllib.request.Request(base + "/token", data=body.encode(), method="POST")
    with urllib.request.urlopen(req) as r:
        return json.load(r)["access_token"]


@dataclass
class LoadResult:
    url: str
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int
    statuses: dict

    def line(self, label: str) -> str:
        return (f"{label:<34} {self.rps:>9.0f} req/s   p50 {self.p50_ms:6.2f} ms   p99 {self.p99_ms:6.2f} ms"
                f"   errors {self.errors}")


def _ms(value: str) -> float:
    m = re.match(r"([\d.]+)(us|ms|s)", value)
    if not m:
        return float("nan")
    n, unit = float(m.group(1)), m.group(2)
    return n / 1000 if unit == "us" else n * 1000 if unit == "s" else n


WRK_LUA = """
done = function(summary, latency, requests)
  local codes = 0
  io.write(string.format("JSON {\\"requests\\": %d, \\"non2xx\\": %d, \\"errors\\": %d}\\n",
    summary.requests, summary.errors.status, summary.errors.connect + summary.errors.read +
    summary.errors.write + summary.errors.timeout))
end
"""


def run_wrk(url: str, headers: dict, seconds: float, connections: int, threads: int = 1, method: str = "GET",
            data: str | None = None, cpu: int | None = None, prefix: tuple[str, ...] = ()) -> LoadResult:
    """wrk against ``url``; with ``cpu``, wrk runs pinned to that CPU (``taskset -c``), behind ``prefix``
    (a priority command such as ``nice -n -10``)."""
    request = "" if data is None else f"wrk.method = {json.dumps(method)}\nwrk.body = {json.dumps(data)}"
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as fh:
        fh.write(request + WRK_LUA)
        script = fh.name
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--latency", "-s", script]
    if cpu is not None:
        cmd = ["taskset", "-c", str(cpu), *cmd]
    cmd = [*prefix, *cmd]
    for k, v in headers.items():
        cmd += ["-H", f"{k}: {v}"]
    done = subprocess.run(cmd + [url], capture_output=True, text=True, timeout=seconds + 30)
    os.unlink(script)
    out = done.stdout
    if "Requests/sec:" not in out:
        raise RuntimeError(f"wrk failed on {url}: {(done.stderr or out).strip()[:300]}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1))  # the Latency Distribution lines,
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))  # not a "68.50%" in the stdev column
    stats = json.loads(re.search(r"JSON (\{.*\})", out).group(1))
    return LoadResult(url, rps, p50, p99, stats["requests"], stats["errors"] + stats["non2xx"],
                      {"non2xx": stats["non2xx"]})


async def _py_load(url: str, headers: dict, seconds: float, connections: int, method: str = "GET",
                   data: str | None = None) -> dict:
    import aiohttp
    lat: list[float] = []
    statuses: dict[int, int] = {}
    errors = 0
    deadline = time.monotonic() + seconds
    conn = aiohttp.TCPConnector(limit=connections)
    async with aiohttp.ClientSession(connector=conn) as session:
        async def worker():
            nonlocal errors
            while time.monotonic() < deadline:
                t = time.perf_counter()
                try:
                    async with session.request(method, url, headers=headers, data=data) as r:
                        await r.read()
                        statuses[r.status] = statuses.get(r.status, 0) + 1
                except Exception:
                    errors += 1
                lat.append(time.perf_counter() - t)
        start = time.monotonic()
        await asyncio.gather(*(worker() for _ in range(connections)))
        elapsed = time.monotonic() - start
    lat.sort()
    pick = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] * 1000 if lat else float("nan")  # noqa: E731
    return {"rps": len(lat) / elapsed, "p50": pick(0.5), "p99": pick(0.99), "requests": len(lat),
            "errors": errors, "statuses": statuses}


def run_python_load(url: str, headers: dict, seconds: float, connections: int, method: str = "GET",
                    data: str | None = None) -> LoadResult:
    """The fallback load generator, in a separate process so it does not share the server's CPU slice."""
    code = ("import asyncio, json, sys; sys.path.insert(0, %r); from bench.loadgen import _py_load; "
            "print(json.dumps(asyncio.run(_py_load(*json.loads(sys.argv[1])))))" % str(ROOT))
    args = json.dumps([url, headers, seconds, connections, method, data])
    out = subprocess.run([sys.executable, "-c", code, args], capture_output=True, text=True,
                         timeout=seconds + 60)
    r = json.loads(out.stdout.strip().splitlines()[-1])
    non2xx = sum(v for k, v in r["statuses"].items() if not str(k).startswith("2"))
    return LoadResult(url, r["rps"], r["p50"], r["p99"], r["requests"], r["errors"] + non2xx, r["statuses"])


def load(url: str, headers: dict | None = None, seconds: float = 5, connections: int = 32,
         force_python: bool = False, method: str = "GET", data: str | None = None) -> LoadResult:
    """Load ``url`` from a second process: wrk if installed, else the Python generator."""
    if shutil.which("wrk") and not force_python:
        return run_wrk(url, headers or {}, seconds, connections, method=method, data=data)
    return run_python_load(url, headers or {}, seconds, connections, method=method, data=data)


def process_cpu(pid: int) -> float | None:
    """User + system CPU seconds used so far by a process (Linux /proc); None elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def m2m_basic(keys_dir: Path) -> str:
    """The Authorization header of oauth-proxy's seeded confidential client (client_secret_basic)."""
    secret = (Path(keys_dir) / "client-secret-m2m").read_text().strip()
    return "Basic " + base64.b64encode(f"m2m:{secret}".encode()).decode()


def client_credentials_token(proxy: str, keys_dir: Path, scope: str = "me") -> str:
    """An access token for the m2m client from oauth-proxy's token endpoint."""
    req = urllib.request.Request(proxy + "/token", data=f"grant_type=client_credentials&scope={scope}".encode(),
                                 headers={"Authorization": m2m_basic(keys_dir)}, method="POST")
    with urllib.request.urlopen(req) as r:
        return json.load(r)["access_token"]
