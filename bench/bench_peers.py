"""backend2 against the FastAPI security tutorial (bench/peers/fastapi_tutorial.py, uvicorn): the same
request, GET /users/me with a valid HS256 token, from a second process, one after the other in one run.

    pip install -e ".[bench]" && python run.py bench peers

Target: backend2 >= 1.5x the tutorial's requests/s.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.loadgen import ROOT, free_port, load, password_token, server, wait_http  # noqa: E402


def fastapi_token(base: str) -> str:
    req = urllib.request.Request(base + "/token", data=b"username=johndoe&password=secret", method="POST",
                                 headers={"Content-Type": "application/x-www-form-urlencoded"})
    with urllib.request.urlopen(req) as r:
        return json.load(r)["access_token"]


def measure(seconds: int, connections: int) -> dict:
    try:
        import fastapi  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError:
        raise SystemExit("the peer needs the bench extra: pip install -e \".[bench]\"")
    results = {}
    with server("backend2") as (base, _, _p):
        token = password_token(base)
        load(base + "/users/me", {"Authorization": f"Bearer {token}"}, seconds=1, connections=connections)
        results["backend2"] = load(base + "/users/me", {"Authorization": f"Bearer {token}"}, seconds=seconds,
                                   connections=connections)
    port = free_port()
    proc = subprocess.Popen([sys.executable, str(ROOT / "bench" / "peers" / "fastapi_tutorial.py"), str(port),
                             os.urandom(32).hex()], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_http(base + "/health")
        token = fastapi_token(base)
        load(base + "/users/me/", {"Authorization": f"Bearer {token}"}, seconds=1, connections=connections)
        results["fastapi"] = load(base + "/users/me/", {"Authorization": f"Bearer {token}"}, seconds=seconds,
                                  connections=connections)
    finally:
        proc.terminate()
        proc.wait(5)
    return results


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=int, default=5)
    p.add_argument("--connections", type=int, default=32)
    args = p.parse_args(argv)
    r = measure(args.seconds, args.connections)
    ratio = r["backend2"].rps / r["fastapi"].rps
    print(r["backend2"].line("backend2 GET /users/me (aiohttp)"))
    print(r["fastapi"].line("FastAPI tutorial GET /users/me/"))
    print(f"{'ratio backend2 : FastAPI tutorial':<34} {ratio:9.2f}   (target >= 1.50)")
    return 0 if ratio >= 1.5 and r["backend2"].errors == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
