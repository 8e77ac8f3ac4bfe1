#!/usr/bin/env python3
"""Benchmark: oauth-proxy client_credentials tokens/s against this machine's bare RS256 signature rate.

Issue 3 target: the proxy issues client_credentials tokens at >= 75% of the rate at which this machine
computes bare RS256 signatures (RSA-2048 PKCS#1 v1.5 + SHA-256 with ``cryptography``, one core): signing
is the ceiling, so the ratio says how much the HTTP, form parsing, client authentication and JSON around
each signature cost.

1. bare sign rate: ``key.sign(signing_input, PKCS1v15(), SHA256())`` in a loop, one thread, measured
   before and after the load test (the best of the two is used: the conservative choice on a shared box);
2. the proxy runs as ``run.py serve oauth-proxy`` in its own process (log level warning, throwaway data and
   keys); the load comes from a second process: ``wrk`` (POST /token, client_secret_basic, keep-alive) or,
   without wrk, an aiohttp client in a subprocess;
3. prints tokens/s, signatures/s and the ratio; exit 1 if a response was not 200.

Usage: python bench/bench_proxy.py [--seconds 10] [--connections 8]
"""
from __future__ import annotations

import argparse
import base64
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cli.processes import free_port, wait_http  # noqa: E402

LUA = """wrk.method = "POST"
wrk.body = "grant_type=client_credentials"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "%s"
"""

AIOHTTP_LOAD = r"""
import asyncio, sys, time, aiohttp
url, auth, seconds, conns = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
async def worker(session, deadline, counts):
    while time.monotonic() < deadline:
        async with session.post(url, data="grant_type=client_credentials",
                                headers={"Authorization": auth,
                                         "Content-Type": "application/x-www-form-urlencoded"}) as r:
            await r.read()
            counts[r.status == 200] += 1
async def main():
    counts = [0, 0]
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=conns)) as s:
        start = time.monotonic()
        await asyncio.gather(*(worker(s, start + seconds, counts) for _ in range(conns)))
        print(f"{counts[1] / (time.monotonic() - start):.1f} {counts[0]}")
asyncio.run(main())
"""


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system) used so far by a process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def bare_sign_rate(seconds: float) -> tuple[float, float]:
    """(signatures per wall-clock second, signatures per CPU second)."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    # a signing input of a realistic access token's size (header + claims, ~400 bytes)
    msg = b"eyJhbGciOiJSUzI1NiIsImtpZCI6Ii4uLiIsInR5cCI6ImF0K2p3dCJ9." + b"A" * 360
    pad, h = padding.PKCS1v15(), hashes.SHA256()
    n, start, cpu = 0, time.perf_counter(), time.process_time()
    while time.perf_counter() - start < seconds:
        for _ in range(50):
            key.sign(msg, pad, h)
        n += 50
    return n / (time.perf_counter() - start), n / (time.process_time() - cpu)


def load_wrk(url: str, auth: str, seconds: float, conns: int, tmp: Path) -> tuple[float, int]:
    script = tmp / "post.lua"
    script.write_text(LUA % auth)
    out = subprocess.run(["wrk", "-t1", f"-c{conns}", f"-d{int(seconds)}s", "-s", str(script), url],
                         capture_output=True, text=True, check=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return rate, int(bad.group(1)) if bad else 0


def load_aiohttp(url: str, auth: str, seconds: float, conns: int) -> tuple[float, int]:
    out = subprocess.run([sys.executable, "-c", AIOHTTP_LOAD, url, auth, str(seconds), str(conns)],
                         capture_output=True, text=True, check=True).stdout.split()
    return float(out[0]), int(out[1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--connections", type=int, default=8)
    ap.add_argument("--sign-seconds", type=float, default=3.0)
    args = ap.parse_args()

    sign_before = bare_sign_rate(args.sign_seconds)
    tmp = Path(tempfile.mkdtemp(prefix="bench-proxy-"))
    port = free_port()
    env = {**os.environ, "OAUTHLAB_BCRYPT_ROUNDS": "4"}
    proc = subprocess.Popen([sys.executable, str(ROOT / "run.py"), "serve", "oauth-proxy", "--port", str(port),
                             "--data-dir", str(tmp / "data"), "--keys-dir", str(tmp / "keys"),
                             "--log-level", "warning"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_http(base + "/health")
        secret = (tmp / "keys" / "client-secret-m2m").read_text().strip()
        auth = "Basic " + base64.b64encode(f"m2m:{secret}".encode()).decode()
        url = base + "/token"
        load_aiohttp(url, auth, 1.0, 2)  # warm-up (imports, caches, first key load)
        cpu0 = process_cpu(proc.pid)
        if shutil.which("wrk"):
            tool = "wrk"
            tokens, bad = load_wrk(url, auth, args.seconds, args.connections, tmp)
        else:
            tool = "aiohttp client"
            tokens, bad = load_aiohttp(url, auth, args.seconds, args.connections)
        server_cpu = process_cpu(proc.pid) - cpu0
        health_rate, health_cpu = None, None
        if shutil.which("wrk"):  # the bare HTTP cost of this server on this machine, for the breakdown
            cpu1 = process_cpu(proc.pid)
            out = subprocess.run(["wrk", "-t1", f"-c{args.connections}", f"-d{int(args.seconds / 2)}s",
                                  base + "/health"], capture_output=True, text=True, check=True).stdout
            health_rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
            health_cpu = (process_cpu(proc.pid) - cpu1) / (health_rate * int(args.seconds / 2))
    finally:
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(tmp, ignore_errors=True)
    sign_after = bare_sign_rate(args.sign_seconds)
    sign = max(sign_before[0], sign_after[0])
    sign_cpu = max(sign_before[1], sign_after[1])
    ratio = tokens / sign
    tokens_per_cpu = tokens * args.seconds / server_cpu if server_cpu else float("nan")
    cpu_ratio = tokens_per_cpu / sign_cpu
    print(f"bare RS256 signatures/s (cryptography, RSA-2048, 1 thread): {sign:8.1f}  "
          f"(before {sign_before[0]:.1f}, after {sign_after[0]:.1f}; {1000 / sign:.3f} ms each)")
    print(f"oauth-proxy client_credentials tokens/s ({tool}, {args.connections} connections, "
          f"{args.seconds:.0f} s): {tokens:8.1f}  non-200: {bad}")
    print(f"ratio tokens/signatures (wall clock):  {ratio:.2f}  "
          f"(target >= 0.75: {'met' if ratio >= 0.75 else 'NOT met'})")
    print(f"per CPU second: {sign_cpu:.1f} signatures vs {tokens_per_cpu:.1f} tokens "
          f"(server used {server_cpu:.2f} CPU s in {args.seconds:.0f} s) -> ratio {cpu_ratio:.2f}")
    if health_cpu:
        print(f"CPU per request: token {1000 * server_cpu / (tokens * args.seconds):.3f} ms = signature "
              f"{1000 / sign_cpu:.3f} ms + the rest; GET /health costs {1000 * health_cpu:.3f} ms "
              f"({health_rate:.0f} req/s) on this server")
    print(f"load average during the run: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs "
          f"(a loaded machine lowers the wall-clock ratio; the CPU ratio is what the code costs)")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
