#!/usr/bin/env python3
"""Benchmark: oauth-proxy client_credentials tokens/s against this machine's bare RS256 signature rate.

Target: the proxy issues client_credentials tokens at >= 75% of the rate at which this machine
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
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.loadgen import load, m2m_basic, process_cpu, server  # noqa: E402

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
BODY = "grant_type=client_credentials"


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


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--connections", type=int, default=8)
    ap.add_argument("--sign-seconds", type=float, default=3.0)
    args = ap.parse_args(argv)

    sign_before = bare_sign_rate(args.sign_seconds)
    with server("oauth-proxy", env={"OAUTHLAB_BCRYPT_ROUNDS": "4"}) as (base, tmp, proc):
        headers = {"Authorization": m2m_basic(tmp / "keys"), **FORM}
        url = base + "/token"
        load(url, headers, seconds=1, connections=2, method="POST", data=BODY)  # warm-up (first key load)
        cpu0 = process_cpu(proc.pid)
        result = load(url, headers, seconds=args.seconds, connections=args.connections, method="POST", data=BODY)
        server_cpu = process_cpu(proc.pid) - cpu0
        tokens, bad, issued = result.rps, result.errors, result.requests
        # the bare HTTP cost of this server on this machine, for the breakdown
        cpu1 = process_cpu(proc.pid)
        health = load(base + "/health", seconds=args.seconds / 2, connections=args.connections)
        health_rate = health.rps
        health_cpu = (process_cpu(proc.pid) - cpu1) / health.requests if health.requests else None
    sign_after = bare_sign_rate(args.sign_seconds)
    sign = max(sign_before[0], sign_after[0])
    sign_cpu = max(sign_before[1], sign_after[1])
    ratio = tokens / sign
    tokens_per_cpu = issued / server_cpu if server_cpu else float("nan")
    cpu_ratio = tokens_per_cpu / sign_cpu
    print(f"bare RS256 signatures/s (cryptography, RSA-2048, 1 thread): {sign:8.1f}  "
          f"(before {sign_before[0]:.1f}, after {sign_after[0]:.1f}; {1000 / sign:.3f} ms each)")
    print(f"oauth-proxy client_credentials tokens/s ({args.connections} connections, "
          f"{args.seconds:.0f} s): {tokens:8.1f}  non-200: {bad}")
    print(f"ratio tokens/signatures (wall clock):  {ratio:.2f}  "
          f"(target >= 0.75: {'met' if ratio >= 0.75 else 'NOT met'})")
    print(f"per CPU second: {sign_cpu:.1f} signatures vs {tokens_per_cpu:.1f} tokens "
          f"(server used {server_cpu:.2f} CPU s in {args.seconds:.0f} s) -> ratio {cpu_ratio:.2f}")
    if health_cpu:
        print(f"CPU per request: token {1000 * server_cpu / issued:.3f} ms = signature "
              f"{1000 / sign_cpu:.3f} ms + the rest; GET /health costs {1000 * health_cpu:.3f} ms "
              f"({health_rate:.0f} req/s) on this server")
    print(f"load average during the run: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs "
          f"(a loaded machine lowers the wall-clock ratio; the CPU ratio is what the code costs)")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
