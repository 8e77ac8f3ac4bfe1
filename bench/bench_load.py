"""Sustained load on every server from a second process: 64 connections, 30 s each by
default, 127.0.0.1 only. Each server gets a mix of valid and invalid requests; the report says, per kind
of request, how many got the expected status, how many did not, socket errors, and the server's RSS
before and after (memory must stay flat).

    python run.py bench load [--seconds 30] [--connections 64] [--servers backend2,backend4]
"""
from __future__ import annotations

import argparse
import asyncio
import base64
import json
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.loadgen import ROOT, client_credentials_token, m2m_basic, password_token, server  # noqa: E402


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return -1


async def _mixed_load(specs: list, seconds: float, connections: int) -> dict:
    """specs: [label, method, url, headers, body, [expected statuses]]; round-robin over connections."""
    import aiohttp
    counts = {s[0]: {"ok": 0, "unexpected": {}, "errors": 0} for s in specs}
    deadline = time.monotonic() + seconds
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=connections)) as session:
        async def worker(i: int) -> None:
            n = i
            while time.monotonic() < deadline:
                label, method, url, headers, body, expected = specs[n % len(specs)]
                n += 1
                c = counts[label]
                try:
                    async with session.request(method, url, headers=headers, data=body) as r:
                        await r.read()
                        if r.status in expected:
                            c["ok"] += 1
                        else:
                            c["unexpected"][str(r.status)] = c["unexpected"].get(str(r.status), 0) + 1
                except Exception:
                    c["errors"] += 1
        await asyncio.gather(*(worker(i) for i in range(connections)))
    return counts


def mixed_load(specs: list, seconds: float, connections: int) -> dict:
    code = ("import asyncio, json, sys; sys.path.insert(0, %r); from bench.bench_load import _mixed_load; "
            "print(json.dumps(asyncio.run(_mixed_load(*json.loads(sys.argv[1])))))" % str(ROOT))
    out = subprocess.run([sys.executable, "-c", code, json.dumps([specs, seconds, connections])],
                         capture_output=True, text=True, timeout=seconds + 120)
    return json.loads(out.stdout.strip().splitlines()[-1])


FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def password_specs(base: str, token: str, scoped: bool) -> list:
    specs = bearer_specs(base, token)
    specs.append(["POST /token bad grant", "POST", base + "/token", FORM, "grant_type=implicit", [400]])
    if scoped:
        specs.append(["GET /users/me/items valid", "GET", base + "/users/me/items",
                      {"Authorization": f"Bearer {token}"}, None, [200]])
    return specs


def measured(proc, specs: list, seconds: int, connections: int) -> tuple[int, dict, int]:
    """RSS before, the mixed load's counts, RSS after."""
    before = rss_kib(proc.pid)
    counts = mixed_load(specs, seconds, connections)
    return before, counts, rss_kib(proc.pid)


def bearer_specs(base: str, token: str) -> list:
    bad = token[:-6] + ("AAAAAA" if not token.endswith("AAAAAA") else "BBBBBB")
    return [
        ["GET /users/me valid", "GET", base + "/users/me", {"Authorization": f"Bearer {token}"}, None, [200]],
        ["GET /users/me bad signature", "GET", base + "/users/me", {"Authorization": f"Bearer {bad}"}, None, [401]],
        ["GET /users/me no token", "GET", base + "/users/me", {}, None, [401]],
        ["GET /health", "GET", base + "/health", {}, None, [200]],
    ]


def run_one(name: str, seconds: int, connections: int) -> tuple[bool, list[str]]:
    lines = []
    if name in ("backend", "backend2", "backend3"):
        with server(name) as (base, _, proc):
            token = password_token(base, "me items" if name == "backend3" else None)
            before, counts, after = measured(proc, password_specs(base, token, name == "backend3"), seconds,
                                             connections)
    elif name == "oauth-proxy":
        with server("oauth-proxy") as (base, tmp, proc):
            wrong = "Basic " + base64.b64encode(b"m2m:wrong").decode()
            specs = [
                ["POST /token client_credentials", "POST", base + "/token",
                 {"Authorization": m2m_basic(tmp / "keys"), **FORM}, "grant_type=client_credentials", [200]],
                ["POST /token wrong secret", "POST", base + "/token", {"Authorization": wrong, **FORM},
                 "grant_type=client_credentials", [401]],
                ["GET /.well-known/jwks.json", "GET", base + "/.well-known/jwks.json", {}, None, [200]],
                ["GET /authorize bad client", "GET", base + "/authorize?client_id=nope&response_type=code",
                 {}, None, [400]],
            ]
            before, counts, after = measured(proc, specs, seconds, connections)
    elif name == "backend4":
        with server("oauth-proxy") as (proxy, tmp, _), \
                server("backend4", "--upstream-issuer", proxy, "--audience", "http://127.0.0.1:9000") as (base, _, proc):
            token = client_credentials_token(proxy, tmp / "keys", "me items")
            before, counts, after = measured(proc, bearer_specs(base, token), seconds, connections)
    else:
        raise SystemExit(f"unknown server {name}")
    ok = True
    total = 0
    for label, c in counts.items():
        bad = sum(c["unexpected"].values())
        total += c["ok"] + bad
        ok &= bad == 0 and c["errors"] == 0
        lines.append(f"  {label:<36} ok {c['ok']:>7}  unexpected {c['unexpected'] or 0}  socket errors {c['errors']}")
    growth = after - before
    lines.insert(0, f"{name}: {total} requests in {seconds} s ({total / seconds:.0f}/s), {connections} connections; "
                    f"RSS {before / 1024:.1f} MiB -> {after / 1024:.1f} MiB ({growth / 1024:+.1f} MiB)")
    ok &= growth < 32 * 1024  # flat: well under the size of what went through
    return ok, lines


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=int, default=30)
    p.add_argument("--connections", type=int, default=64)
    p.add_argument("--servers", default="backend,backend2,backend3,oauth-proxy,backend4")
    args = p.parse_args(argv)
    all_ok = True
    for name in args.servers.split(","):
        ok, lines = run_one(name.strip(), args.seconds, args.connections)
        print("\n".join(lines), flush=True)
        all_ok &= ok
    print("PASS: every valid request 2xx, every invalid one its 4xx, no socket errors, RSS flat"
          if all_ok else "FAIL")
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
