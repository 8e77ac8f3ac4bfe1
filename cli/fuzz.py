"""``run.py fuzz``: property-based fuzzing (hypothesis).

- ``--target FILE``: a resource server described by a profile. Each property breaks one rule of the
  profile's policy or of the RFCs (harness/fuzzprops.py) and runs on its own, so a run reports every
  distinct failing property, each shrunk to a minimal example with a curl command. ``--seed`` makes a run
  repeatable; progress goes to stderr; ``--format json`` prints the report as JSON on stdout.
- ``--api NAME``: schemathesis against one of our servers' OpenAPI documents (cli/fuzz_api.py).
Exit codes: 0 nothing failed at or above ``--fail-on``, 1 a property failed, 2 usage/configuration error or
an unreachable target.
"""
from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import sys

from . import color_enabled

DEFAULT_EXAMPLES = 2000
LEVELS = ("critical", "high", "medium", "low", "info", "never")


class Progress:
    """Progress on stderr: one line per property, rewritten in place on a terminal."""

    def __init__(self, stream=sys.stderr) -> None:
        self.stream, self.tty = stream, stream.isatty()

    def __call__(self, event: str, key: str, done: int, quota: int) -> None:
        if event == "example" and self.tty and done % 10 == 0:
            self.stream.write(f"\r[fuzz] {key}: {done}/{quota}   ")
        elif event == "done":
            self.stream.write(("\r" if self.tty else "") + f"[fuzz] {key}: {done} examples\n")
        self.stream.flush()


def _print_text(report, fail_on: str, out=sys.stdout) -> None:
    red = "\x1b[31m" if color_enabled(out) else ""
    reset = "\x1b[0m" if red else ""
    failing = {id(r) for r in report.failing(fail_on)}
    for r in report.results:
        if r.verdict == "pass":
            continue
        if r.verdict == "error":
            print(f"{red}ERROR{reset} {r.prop.key}: {r.error}", file=out)
            continue
        mark = f"{red}FAIL{reset}" if id(r) in failing else "note"
        if r.verdict == "subsumed":
            print(f"note  {r.prop.key}: {r.prop.title} (implied by {', '.join(r.prop.subsumed_by)})", file=out)
            continue
        c = r.case
        print(f"{mark}  {r.prop.key}: {r.prop.title} [{r.prop.impact}, {r.severity}]", file=out)
        print(f"      rule: {r.prop.rule}", file=out)
        for p in r.problems:
            print(f"      - {p}", file=out)
        print(f"      shrunk after {r.examples} examples: oracle {c.why}", file=out)
        if c.header is not None:
            print(f"      header: {json.dumps(c.header, default=str)}", file=out)
            print(f"      claims: {json.dumps(c.claims, default=str)}", file=out)
        if r.challenge:
            print(f"      WWW-Authenticate: {r.challenge}", file=out)
        print(f"      reproduce: {r.curl}", file=out)
    n_fail = len(report.failing(fail_on))
    summary = (f"{report.target}: {report.examples} examples, {len(report.results)} properties, "
               f"{len(report.failures)} failed ({n_fail} at or above {fail_on}), {len(report.errors)} errors "
               f"(seed {report.seed})")
    print((red if n_fail else "") + summary + (reset if n_fail else ""), file=out)


def run(args: argparse.Namespace) -> int:
    if args.api:
        try:
            fuzz_api = importlib.import_module("cli.fuzz_api")
        except ModuleNotFoundError:
            print("error: --api needs cli/fuzz_api.py (schemathesis), which is not installed", file=sys.stderr)
            return 2
        return int(fuzz_api.run(args) or 0)
    from harness.fuzzrun import fuzz
    from harness.targets import load_profile

    examples = DEFAULT_EXAMPLES if args.examples is None else args.examples
    seed = 0 if args.seed is None else args.seed
    if examples < 1:
        print("error: --examples must be at least 1", file=sys.stderr)
        return 2
    target = load_profile(args.target)
    if target.resource is None:
        print(f"error: {args.target}: resource: missing: fuzzing needs a [resource] table", file=sys.stderr)
        return 2
    only = tuple(args.only or ())
    from harness.fuzzprops import PROPERTIES
    known = {p.key for p in PROPERTIES} | {p.key.split(":")[0] for p in PROPERTIES}
    unknown = [k for k in only if k not in known]
    if unknown:
        print(f"error: --only {unknown[0]!r} names no property; known: {', '.join(sorted(known))}", file=sys.stderr)
        return 2
    report = asyncio.run(fuzz(target, examples, seed, Progress(), only))  # bad target: exit 2 in cli.main
    if args.format == "json":
        print(json.dumps(report.as_dict(args.fail_on), indent=2, default=str))
    else:
        _print_text(report, args.fail_on)
    return report.exit_code(args.fail_on)


def register(sub) -> None:
    p = sub.add_parser("fuzz", help="property-based fuzzing of a resource server (or an API with --api)",
                       description="Hypothesis fuzzing against a target profile's policy and the RFCs, one property "
                                   "per claim/header and kind of break; or schemathesis against one of our APIs. "
                                   "Exit codes: 0 ok, 1 a property failed, 2 usage/config error.")
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--target", metavar="FILE", help="a resource-server profile (TOML)")
    which.add_argument("--api", metavar="NAME", help="schemathesis against our server NAME's OpenAPI document")
    p.add_argument("--examples", type=int, metavar="N",
                   help=f"examples in all, shared by the properties (default {DEFAULT_EXAMPLES}; --api: per operation)")
    p.add_argument("--seed", type=int, metavar="S", help="random seed, for a reproducible run (default 0)")
    p.add_argument("--only", action="append", metavar="KEY",
                   help="run only this property or group (exp, exp:leeway, aud...); repeatable")
    p.add_argument("--format", choices=("text", "json"), default="text", help="report on stdout (default text)")
    p.add_argument("--fail-on", choices=LEVELS, default="low",
                   help="exit 1 for failures at or above this severity (default low: SHOULD-level deviations, "
                        "rated info, are reported but do not fail)")
    p.set_defaults(func=run)
