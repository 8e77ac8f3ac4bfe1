"""Our servers against their peers, measured the way the peers are measured: paired and interleaved.

Every server (ours and the peers) is pinned to CPU 0 (``taskset -c 0``), the load generator to CPU 1:
``wrk -t1 -c32`` for GETs, a wrk Lua POST with 16 connections for tokens. In each round every row loads
ours and its peer back to back, ``--duration`` seconds each, in one-second slices taking turns A-B, B-A, ...
(a spell of the machine running slower weighs on both alike); the rows' order and who goes first reverse
every other round. A row's result is the median of its per-round ratios, printed with their spread (min-max) and the
absolute medians. On a shared machine absolute rates move from round to round; the paired ratio is what
means something.

    python run.py bench peers [--rounds 5] [--duration 5] [--rows ID,...] [--format json] [--no-uvloop]

The peers are set up from the registries when missing: the FastAPI tutorial app (pyproject's [bench]
extra, pip) and node oidc-provider 8.8 + a jose resource server (``npm ci`` in bench/peers/node).
Exit 0 when every goal is met, 1 when one is not (or a request failed), 2 when the machine cannot run it.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import secrets
import statistics
import sys
import tempfile
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import pinned
from bench.loadgen import ROOT, free_port, m2m_basic, password_token, process_cpu, run_wrk

AUDIENCE = "http://127.0.0.1:9000"  # the resource both resource servers are, and the proxy's default
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
CC_BODY = "grant_type=client_credentials&scope=me"
GET_CONNECTIONS, POST_CONNECTIONS = 32, 16


@dataclass(frozen=True)
class Row:
    id: str
    measure: str
    ours: str
    theirs: str
    goal: float


ROWS = (
    Row("backend2-fastapi", "backend2 /users/me vs the FastAPI tutorial app", "backend2", "fastapi", 2.5),
    Row("backend4-jose", "backend4 /users/me (cached proxy token) vs node jose resource server", "backend4-me",
        "jose", 1.3),
    Row("backend4-health", "backend4 /users/me vs its own /health", "backend4-me", "backend4-health", 0.95),
    # The same with the token sent to /health too: what the bearer check costs, without the cost of
    # receiving a ~750-byte header that /health is otherwise spared.
    Row("backend4-health-token", "backend4 /users/me vs /health sent the same token", "backend4-me",
        "backend4-health-token", 0.95),
    Row("proxy-oidc", "oauth-proxy client_credentials tokens/s vs node oidc-provider 8.8", "proxy-token",
        "oidc-token", 1.3),
    Row("proxy-rsa", "oauth-proxy client_credentials tokens/s vs bare RSA-2048 signing", "proxy-token",
        "rsa-sign", 0.75),
)
# The order in which targets are warmed up before the first round.
ORDER = ("backend2", "fastapi", "backend4-me", "jose", "backend4-health", "backend4-health-token", "proxy-token",
         "oidc-token", "rsa-sign")
BACKEND4_TARGETS = frozenset({"backend4-me", "backend4-health", "backend4-health-token"})
LABELS = {"backend2": "backend2 GET /users/me", "fastapi": "FastAPI tutorial GET /users/me/",
          "backend4-me": "backend4 GET /users/me", "jose": "node jose RS GET /users/me",
          "backend4-health": "backend4 GET /health", "backend4-health-token": "backend4 GET /health + token",
          "proxy-token": "oauth-proxy POST /token",
          "oidc-token": "oidc-provider POST /token", "rsa-sign": "RSA-2048 signatures"}


@dataclass
class Sample:
    rate: float  # requests (or signatures) per second
    cpu_us: float  # the server's own CPU time (user + system) per request, microseconds
    errors: int


Target = Callable[[float], Sample]


def wrk_target(proc, url: str, headers: dict, connections: int, **post) -> Target:
    """Load ``url`` with wrk on the load CPU; the server's CPU time is read around the run."""
    def run(seconds: float) -> Sample:
        before = process_cpu(proc.pid)
        r = run_wrk(url, headers, seconds, connections, cpu=pinned.LOAD_CPU, prefix=tuple(pinned.priority_prefix()),
                    **post)
        after = process_cpu(proc.pid)
        cpu_us = (after - before) / r.requests * 1e6 if r.requests and None not in (before, after) else math.nan
        return Sample(r.rps, cpu_us, r.errors)
    return run


def get_target(proc, url: str, headers: dict | None = None) -> Target:
    return wrk_target(proc, url, headers or {}, GET_CONNECTIONS)


def token_target(proc, url: str, authorization: str) -> Target:
    return wrk_target(proc, url, {"Authorization": authorization, **FORM}, POST_CONNECTIONS, method="POST",
                      data=CC_BODY)


def check_ok(url: str, headers: dict) -> None:
    """The request really succeeds before it is measured."""
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=10) as r:
        if r.status != 200:
            raise pinned.SetupError(f"{url} answered {r.status}")


def start_targets(stack: contextlib.ExitStack, needed: set[str], workdir: Path, env: dict) -> dict[str, Target]:
    """Start the servers the needed targets use; return target name -> measuring function."""
    targets: dict[str, Target] = {}
    quick = {**env, "OAUTHLAB_BCRYPT_ROUNDS": "4"}  # only the token fetch at set-up logs in
    if "backend2" in needed:
        base, proc = stack.enter_context(pinned.our_server("backend2", workdir, env=quick))
        auth = {"Authorization": f"Bearer {password_token(base)}"}
        check_ok(base + "/users/me", auth)
        targets["backend2"] = get_target(proc, base + "/users/me", auth)
    if "fastapi" in needed:
        pinned.ensure_python_peer()
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        cmd = [sys.executable, str(ROOT / "bench" / "peers" / "fastapi_tutorial.py"), str(port),
               secrets.token_hex(32)]
        proc = stack.enter_context(pinned.run_pinned("fastapi", cmd, base + "/health", workdir))
        token = pinned.json_post(base + "/token", "username=johndoe&password=secret", FORM)["access_token"]
        auth = {"Authorization": f"Bearer {token}"}
        check_ok(base + "/users/me/", auth)
        targets["fastapi"] = get_target(proc, base + "/users/me/", auth)
    if needed & {*BACKEND4_TARGETS, "jose", "proxy-token"}:
        proxy, proc = stack.enter_context(pinned.our_server("oauth-proxy", workdir, env=quick))
        basic = m2m_basic(workdir / "oauth-proxy" / "keys")
        token = pinned.json_post(proxy + "/token", CC_BODY, {"Authorization": basic, **FORM})["access_token"]
        auth = {"Authorization": f"Bearer {token}"}
        targets["proxy-token"] = token_target(proc, proxy + "/token", basic)
        if needed & BACKEND4_TARGETS:
            api, proc = stack.enter_context(pinned.our_server("backend4", workdir, "--upstream-issuer", proxy,
                                                              "--audience", AUDIENCE, env=env))
            check_ok(api + "/users/me", auth)
            targets["backend4-me"] = get_target(proc, api + "/users/me", auth)
            targets["backend4-health"] = get_target(proc, api + "/health")
            targets["backend4-health-token"] = get_target(proc, api + "/health", auth)
        if "jose" in needed:
            pinned.ensure_node_peers()
            port = free_port()
            base = f"http://127.0.0.1:{port}"
            cmd = pinned.node_command("jose_rs.mjs", str(port), proxy, proxy + "/.well-known/jwks.json", AUDIENCE)
            proc = stack.enter_context(pinned.run_pinned("jose", cmd, base + "/health", workdir))
            check_ok(base + "/users/me", auth)
            targets["jose"] = get_target(proc, base + "/users/me", auth)
    if "oidc-token" in needed:
        pinned.ensure_node_peers()
        port, secret = free_port(), secrets.token_urlsafe(32)
        base = f"http://127.0.0.1:{port}"
        cmd = pinned.node_command("oidc_provider.mjs", str(port), secret, AUDIENCE)
        proc = stack.enter_context(pinned.run_pinned("oidc-provider", cmd,
                                                     base + "/.well-known/openid-configuration", workdir))
        import base64
        basic = "Basic " + base64.b64encode(f"m2m:{secret}".encode()).decode()
        pinned.json_post(base + "/token", CC_BODY, {"Authorization": basic, **FORM})
        targets["oidc-token"] = token_target(proc, base + "/token", basic)
    if "rsa-sign" in needed:
        targets["rsa-sign"] = lambda seconds: Sample(*pinned.sign_rate(seconds), 0)
    return targets


def slices(duration: float) -> list[float]:
    """A pair's time in a round as one-second slices (wrk counts whole seconds, so ``duration`` is rounded
    to them): ours and the peer take turns slice by slice, A-B then B-A, so that a spell of the machine
    running slower or faster weighs on both alike."""
    return [1.0] * max(1, round(duration))


def merged(parts: list[tuple[float, Sample]]) -> Sample:
    """One sample from slices of (seconds, sample): requests over time, CPU time over requests."""
    requests = [seconds * s.rate for seconds, s in parts]
    rate = sum(requests) / sum(seconds for seconds, _ in parts)
    cpu = [s.cpu_us * n for (_, s), n in zip(parts, requests) if n and not math.isnan(s.cpu_us)]
    cpu_us = sum(cpu) / sum(requests) if cpu and len(cpu) == len(parts) else math.nan
    return Sample(rate, cpu_us, sum(s.errors for _, s in parts))


def measure_pair(ours: Target, theirs: Target, duration: float, ours_first: bool) -> tuple[Sample, Sample]:
    """Ours and the peer back to back for ``duration`` seconds each, in alternating slices A-B, B-A, ..."""
    got: dict[bool, list[tuple[float, Sample]]] = {True: [], False: []}
    first = ours_first
    for seconds in slices(duration):
        for is_ours in (first, not first):
            got[is_ours].append((seconds, (ours if is_ours else theirs)(seconds)))
        first = not first
    return merged(got[True]), merged(got[False])


def measure(rows: list[Row], rounds: int, duration: float, env: dict, progress) -> dict[str, list[tuple[Sample, Sample]]]:
    """Per row, one (ours, peer) pair of samples per round. Every row's two targets are measured back to
    back (a target shared by rows is measured again for each); rows run in reverse order every other round,
    and ours goes first in every other round."""
    needed = {name for r in rows for name in (r.ours, r.theirs)}
    samples: dict[str, list[tuple[Sample, Sample]]] = {row.id: [] for row in rows}
    with tempfile.TemporaryDirectory(prefix="oauthlab-bench-peers-") as tmp, contextlib.ExitStack() as stack:
        targets = start_targets(stack, needed, Path(tmp), env)
        for name in [name for name in ORDER if name in needed]:  # warm-up: first key loads, JIT, connections
            targets[name](min(1.0, duration))
        for i in range(rounds):
            for row in (rows if i % 2 == 0 else reversed(rows)):
                samples[row.id].append(measure_pair(targets[row.ours], targets[row.theirs], duration, i % 2 == 0))
            progress(f"round {i + 1}/{rounds} done")
    return samples


def summarise(rows: list[Row], samples: dict[str, list[tuple[Sample, Sample]]]) -> list[dict]:
    out = []
    for row in rows:
        ours, theirs = [a for a, _ in samples[row.id]], [b for _, b in samples[row.id]]
        ratios = [a.rate / b.rate if b.rate else math.nan for a, b in zip(ours, theirs)]
        cpu_ratios = [b.cpu_us / a.cpu_us if a.cpu_us else math.nan for a, b in zip(ours, theirs)]
        median = statistics.median(ratios)
        errors = sum(s.errors for s in ours + theirs)
        out.append({"id": row.id, "measure": row.measure, "goal": row.goal, "median": median,
                    "min": min(ratios), "max": max(ratios), "ratios": ratios,
                    "cpu_median": statistics.median(cpu_ratios), "cpu_ratios": cpu_ratios,
                    "ours": {"target": LABELS[row.ours], "median_rate": statistics.median(s.rate for s in ours),
                             "median_cpu_us": statistics.median(s.cpu_us for s in ours)},
                    "peer": {"target": LABELS[row.theirs], "median_rate": statistics.median(s.rate for s in theirs),
                             "median_cpu_us": statistics.median(s.cpu_us for s in theirs)},
                    "errors": errors, "met": median >= row.goal and errors == 0})
    return out


def table(results: list[dict], rounds: int, duration: float) -> str:
    lines = [(f"{'measure':<72} {'goal':>7} {'median':>7} {'spread':>13} {'ours/s':>7} {'peer/s':>7} "
              f"{'cpu':>6}  met")]
    for r in results:
        lines.append(f"{r['measure']:<72} {'>= ' + format(r['goal'], '.2f'):>7} {r['median']:>6.2f}x "
                     f"{r['min']:>6.2f}-{r['max']:<6.2f} {r['ours']['median_rate']:>7.0f} "
                     f"{r['peer']['median_rate']:>7.0f} {r['cpu_median']:>5.2f}x  {'yes' if r['met'] else 'NO'}"
                     + (f"  ({r['errors']} failed requests)" if r["errors"] else ""))
    lines.append("median, spread: ratio of requests/s (ours : peer) per round; cpu: the same ratio counted in"
                 " each server's own CPU time per request (peer : ours), which neighbours disturb less")
    lines.append(f"{rounds} interleaved rounds of {duration:g} s; servers on CPU {pinned.SERVER_CPU}, wrk on "
                 f"CPU {pinned.LOAD_CPU}, priority {' '.join(pinned.priority_prefix()) or 'unchanged'}"
                 f"; load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="run.py bench peers", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=5, help="interleaved rounds (default 5)")
    p.add_argument("--duration", type=float, default=5.0,
                   help="seconds per target per round, run as 1 s slices taking turns with the peer (default 5)")
    p.add_argument("--rows", help="comma-separated row ids (default all): " + ", ".join(r.id for r in ROWS))
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.add_argument("--no-uvloop", action="store_true", help="run our servers on the asyncio event loop")
    p.add_argument("--nice", type=int, default=pinned.default_nice(), metavar="N",
                   help="scheduling priority of every measured process, -20..19 (default -10 when permitted, "
                   "so that other work on the machine disturbs less)")
    p.add_argument("--no-nice", dest="nice", action="store_const", const=None,
                   help="leave the priority unchanged")
    p.add_argument("--realtime", action="store_true",
                   help="run every measured process under SCHED_RR (chrt -r 10; needs root): the closest a shared "
                   "machine gets to one CPU each, at the expense of everything else on it while the run lasts")
    args = p.parse_args(argv)
    if args.rounds < 1 or not 1 <= args.duration <= 600:
        p.error("--rounds must be >= 1 and --duration between 1 and 600 s")
    rows = list(ROWS)
    if args.rows:
        wanted = [x.strip() for x in args.rows.split(",") if x.strip()]
        unknown = [x for x in wanted if x not in {r.id for r in ROWS}]
        if unknown:
            p.error(f"unknown row(s) {', '.join(unknown)}; choose from {', '.join(r.id for r in ROWS)}")
        rows = [r for r in ROWS if r.id in wanted]
    if args.nice is not None and not -20 <= args.nice <= 19:
        p.error("--nice must be between -20 and 19")
    pinned.NICE, pinned.REALTIME = args.nice, args.realtime
    env = {"OAUTHLAB_UVLOOP": "0"} if args.no_uvloop else {}
    try:
        pinned.check_machine()
        samples = measure(rows, args.rounds, args.duration, env,
                          progress=lambda msg: print(msg, file=sys.stderr, flush=True))
    except pinned.SetupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    results = summarise(rows, samples)
    if args.format == "json":
        print(json.dumps({"rounds": args.rounds, "duration": args.duration, "server_cpu": pinned.SERVER_CPU,
                          "load_cpu": pinned.LOAD_CPU, "uvloop": not args.no_uvloop, "nice": args.nice, "realtime": args.realtime,
                          "load_average": os.getloadavg()[0], "rows": results}, indent=2))
    else:
        print(table(results, args.rounds, args.duration))
    return 0 if all(r["met"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
