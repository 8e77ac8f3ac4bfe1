"""``run.py fuzz``: property-based fuzzing (hypothesis).

- ``--target FILE``: a resource server described by a profile; tokens, JOSE headers, token shapes and
  Authorization headers are generated and each answer is checked against an oracle of the profile's
  policy (never 5xx; accepted iff valid; RFC 6750 refusals). A failure prints the shrunk case and a curl
  command. ``--seed`` makes the run repeatable.
- ``--api NAME``: schemathesis against one of our servers' OpenAPI documents (cli/fuzz_api.py).
Exit codes: 0 no failure, 1 a property failed, 2 usage/configuration error or unreachable target.
"""
from __future__ import annotations

import argparse
import asyncio
import importlib
import sys

from . import color_enabled


def _progress(stream=sys.stderr):
    if not stream.isatty():
        return None

    def show(done: int, total: int) -> None:
        stream.write(f"\r[fuzz] example {done}/{total} (shrinking may add more)   ")
        stream.flush()
    return show


def run(args: argparse.Namespace) -> int:
    if args.api:
        try:
            fuzz_api = importlib.import_module("cli.fuzz_api")
        except ModuleNotFoundError:
            print("error: --api needs cli/fuzz_api.py (schemathesis), which is not installed", file=sys.stderr)
            return 2
        return int(fuzz_api.run(args) or 0)
    from harness.fuzz import fuzz
    from harness.targets import load_profile

    examples = 100 if args.examples is None else args.examples
    seed = 0 if args.seed is None else args.seed
    if examples < 1:
        print("error: --examples must be at least 1", file=sys.stderr)
        return 2
    target = load_profile(args.target)
    if target.resource is None:
        print(f"error: {args.target}: resource: missing: fuzzing needs a [resource] table", file=sys.stderr)
        return 2
    result = asyncio.run(fuzz(target, examples, seed, _progress()))  # bad profile/target: exit 2 in cli.main
    if sys.stderr.isatty():
        sys.stderr.write("\r" + " " * 70 + "\r")
    red = "\x1b[31m" if color_enabled(sys.stdout) else ""
    reset = "\x1b[0m" if red else ""
    if result.ok:
        print(f"{target.name}: {result.examples} examples, every property held (seed {seed})")
        return 0
    case = result.failure
    print(f"{red}{target.name}: property failed after {result.examples} examples (seed {seed}){reset}")
    for p in result.problems:
        print(f"  - {p}")
    print(f"  kind: {case.kind}; oracle: {case.expected} ({case.why}); status: {result.status}")
    print(f"  shrunk Authorization header: {case.authorization}")
    print(f"  reproduce: {result.curl}")
    return 1


def register(sub) -> None:
    p = sub.add_parser("fuzz", help="property-based fuzzing of a resource server (or an API with --api)",
                       description="Hypothesis fuzzing against a target profile's policy, or schemathesis against "
                                   "one of our APIs. Exit codes: 0 ok, 1 a property failed, 2 usage/config error.")
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--target", metavar="FILE", help="a resource-server profile (TOML)")
    which.add_argument("--api", metavar="NAME", help="schemathesis against our server NAME's OpenAPI document")
    p.add_argument("--examples", type=int, metavar="N", help="examples to generate (default 100)")
    p.add_argument("--seed", type=int, metavar="S", help="random seed, for a reproducible run (default 0)")
    p.set_defaults(func=run)
