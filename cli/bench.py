"""``run.py bench [WHICH]``: the benchmark scripts of bench/, each printing ratios measured in one run.

Absolute numbers on a shared machine are noise; the ratios are the result. Load always comes from a
second process (wrk if installed, else a Python load generator), on 127.0.0.1 only.
"""
from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

BENCHES = {
    "password": "backend2 /users/me vs /health; /health p99 during 8 bcrypt logins",
    "peers": "ours vs the peers (FastAPI tutorial, node jose, node oidc-provider, bare RSA), pinned, interleaved",
    "verify": "in-process RS256 verify: bare cryptography vs PyJWT vs ours (first sight, cached)",
    "backend4": "backend4 /users/me (RS256) vs its own /health",
    "proxy": "oauth-proxy client_credentials tokens/s vs bare RS256 signatures/s",
    "load": "sustained load on every server: statuses, socket errors, RSS before/after",
}
ALL = ("password", "peers", "backend4", "proxy", "verify")


def run(args: argparse.Namespace) -> int:
    root = Path(__file__).resolve().parent.parent
    sys.path.insert(0, str(root))
    names = ALL if args.which == "all" else (args.which,)
    worst = 0
    for name in names:
        try:
            module = importlib.import_module(f"bench.bench_{name}")
        except ModuleNotFoundError:
            print(f"== {name}: not available in this checkout", file=sys.stderr)
            worst = max(worst, 2)
            continue
        print(f"== {name}: {BENCHES[name]}", file=sys.stderr, flush=True)
        try:
            import inspect
            if inspect.signature(module.main).parameters:
                rc = module.main(args.rest)
            else:  # a script that reads sys.argv itself
                sys.argv = [f"bench/bench_{name}.py", *args.rest]
                rc = module.main()
        except SystemExit as exc:  # a bench that exits with a message (missing extra, ...)
            rc = exc.code if isinstance(exc.code, int) else (print(exc.code, file=sys.stderr) or 2)
        worst = max(worst, int(rc or 0))
        print(flush=True)
    return worst


def register(sub) -> None:
    p = sub.add_parser("bench", help="run the benchmarks (ratios, one run)",
                       description="Run benchmark scripts from bench/. " +
                       "; ".join(f"{k}: {v}" for k, v in BENCHES.items()) +
                       ". Exit 1 if a result is below its target.")
    p.add_argument("which", nargs="?", default="all", choices=[*BENCHES, "all"],
                   help="which benchmark (default: all of " + ", ".join(ALL) + ")")
    p.add_argument("rest", nargs=argparse.REMAINDER, help="options passed to the bench script (see its --help)")
    p.set_defaults(func=run)
