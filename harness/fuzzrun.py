"""Run the fuzzer's properties (harness/fuzzprops.py) against one resource server and collect every failure.

Hypothesis stops a property at its first failure and shrinks it; so each property runs as its own
hypothesis test, one after the other, with its own share of the example budget and its own seed (derived
from ``seed`` and the property's key, so one property's draws never shift another's). Hypothesis runs in a
worker thread that sends each example over one blocking keep-alive connection (no event-loop round trip
per example); the event loop stays free, so targets in the same process (test servers) keep being served.
"""
from __future__ import annotations

import asyncio
import http.client
import math
import ssl
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from hypothesis import HealthCheck, Phase, Verbosity, given, settings
from hypothesis import seed as hyp_seed
from yarl import URL

from .client import BODY_LIMIT
from .fuzz import Case, Oracle, Property
from .fuzzprops import PROPERTIES
from .listener import Listener
from .rskit import RSKit
from .scenario import Observation
from .targets import Target

SEVERITIES = ("critical", "high", "medium", "low", "info")


@dataclass
class PropertyResult:
    prop: Property
    verdict: str = "pass"             # pass | fail | error | subsumed
    examples: int = 0
    problems: list[str] = field(default_factory=list)
    case: Case | None = None
    status: int | None = None
    challenge: str = ""
    curl: str = ""
    error: str = ""

    @property
    def severity(self) -> str:
        if self.prop.impact == "vulnerability":
            return self.prop.severity
        return "low" if self.prop.keyword == "MUST" else "info"

    def as_dict(self) -> dict[str, Any]:
        p, c = self.prop, self.case
        out: dict[str, Any] = {"key": p.key, "title": p.title, "verdict": self.verdict, "examples": self.examples,
                               "impact": p.impact, "keyword": p.keyword, "severity": self.severity, "rule": p.rule}
        if self.verdict == "fail" and c is not None:
            out.update(problems=self.problems, status=self.status, challenge=self.challenge, curl=self.curl,
                       case={"authorization": c.authorization, "header": c.header, "claims": c.claims,
                             "oracle": {True: "accept", False: "refuse", None: "either"}[c.expected],
                             "why": c.why})
        if self.error:
            out["error"] = self.error
        if p.subsumed_by:
            out["subsumed_by"] = list(p.subsumed_by)
        return out


@dataclass
class FuzzReport:
    target: str
    url: str
    seed: int
    results: list[PropertyResult] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)   # properties the profile gives no way to test

    @property
    def examples(self) -> int:
        return sum(r.examples for r in self.results)

    @property
    def failures(self) -> list[PropertyResult]:
        return [r for r in self.results if r.verdict == "fail"]

    @property
    def errors(self) -> list[PropertyResult]:
        return [r for r in self.results if r.verdict == "error"]

    def failing(self, fail_on: str = "low") -> list[PropertyResult]:
        """Failures at or above ``fail_on`` (``never``: none)."""
        if fail_on == "never":
            return []
        return [r for r in self.failures if SEVERITIES.index(r.severity) <= SEVERITIES.index(fail_on)]

    @property
    def ok(self) -> bool:
        return not self.failures and not self.errors

    def exit_code(self, fail_on: str = "low") -> int:
        return 1 if self.failing(fail_on) or self.errors else 0

    def as_dict(self, fail_on: str = "low") -> dict[str, Any]:
        return {"schema_version": 1, "target": self.target, "url": self.url, "seed": self.seed,
                "examples": self.examples, "fail_on": fail_on, "exit_code": self.exit_code(fail_on),
                "properties": [r.as_dict() for r in self.results], "not_applicable": self.skipped}


Progress = Callable[[str, str, int, int], None]   # (event "example"|"done", property key, done, quota)


class Connection:
    """One keep-alive HTTP/1.1 connection to the target's endpoint; a request that got no answer on a
    reused connection (the server closed it) is sent once more on a new one."""

    def __init__(self, url: str, timeout: float = 10.0) -> None:
        u = URL(url, encoded=True)
        self.https, self.host, self.port = u.scheme == "https", u.host or "", u.port
        self.path = u.raw_path_qs or "/"
        self.url, self.timeout = url, timeout
        self.conn: http.client.HTTPConnection | None = None

    def _connect(self) -> http.client.HTTPConnection:
        if self.https:
            return http.client.HTTPSConnection(self.host, self.port, timeout=self.timeout,
                                               context=ssl.create_default_context())
        return http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)

    def get(self, headers: dict[str, str], label: str) -> Observation:
        start, error = time.monotonic(), ""
        for _attempt in range(2):
            if self.conn is None:
                self.conn = self._connect()
            try:
                self.conn.request("GET", self.path, headers=headers)
                resp = self.conn.getresponse()
                raw = resp.read()
            except (OSError, http.client.HTTPException, ValueError) as exc:
                error = f"{exc.__class__.__name__}: {exc}"
                self.close()
                continue
            if resp.will_close:
                self.close()
            pairs = resp.getheaders()
            lists: dict[str, list[str]] = {}
            for k, v in pairs:
                lists.setdefault(k.lower(), []).append(v)
            text = raw[:BODY_LIMIT].decode("utf-8", "replace")
            return Observation(label=label, method="GET", url=self.url, request_headers=headers, request_body=None,
                               status=resp.status, headers=dict(reversed(pairs)), body=text,
                               elapsed=time.monotonic() - start,
                               header_lists={k: tuple(v) for k, v in lists.items()})
        return Observation(label=label, method="GET", url=self.url, request_headers=headers, request_body=None,
                           status=None, headers={}, body="", elapsed=time.monotonic() - start, error=error)

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def _run_property(prop: Property, oracle: Oracle, quota: int, seed: int, conn: Connection,
                  progress: Progress | None) -> PropertyResult:
    """One hypothesis test for one property; the last failing call is the shrunk example (hypothesis replays
    the minimal failing example last)."""
    result = PropertyResult(prop)
    last: dict[str, Any] = {}
    strategy = prop.cases(oracle)

    @settings(max_examples=quota, deadline=None, database=None, derandomize=False, verbosity=Verbosity.quiet,
              phases=(Phase.explicit, Phase.generate, Phase.shrink), report_multiple_bugs=False,
              suppress_health_check=list(HealthCheck), print_blob=False)
    @hyp_seed(seed)
    @given(case=strategy)
    def check(case: Case) -> None:
        result.examples += 1
        if progress is not None:
            progress("example", prop.key, result.examples, quota)
        headers = {"Authorization": case.authorization} if case.authorization else {}
        obs = conn.get(headers, prop.key)
        problems = prop.judge(case, obs, oracle)
        if problems:
            challenge = obs.header_values("WWW-Authenticate")
            last.update(case=case, problems=problems, status=obs.status, challenge=challenge[0] if challenge else "")
        assert not problems, problems

    try:
        check()
    except Exception as exc:  # noqa: BLE001 - a failing property, or a strategy that could not draw
        if last:
            result.verdict = "fail"
            result.case, result.problems = last["case"], last["problems"]
            result.status, result.challenge = last["status"], last["challenge"]
            result.curl = result.case.curl(conn.url)
        else:
            result.verdict, result.error = "error", f"{exc.__class__.__name__}: {str(exc)[:300]}"
    return result


async def fuzz(target: Target, examples: int = 2000, seed: int = 0, progress: Progress | None = None,
               only: tuple[str, ...] = ()) -> FuzzReport:
    """Run every applicable property against ``target`` with about ``examples`` examples in all."""
    listener = await Listener().start()
    session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10), cookie_jar=aiohttp.DummyCookieJar(),
                                    connector=aiohttp.TCPConnector(limit=4))
    kit = RSKit(target, session, listener)
    try:
        await kit.prepare()
        oracle = Oracle.of(kit)
        url = target.url(kit.profile.endpoint)
        report = FuzzReport(target.name, url, seed)
        conn = Connection(url)
        chosen = [p for p in PROPERTIES if not only or any(p.key == k or p.key.startswith(k + ":") for k in only)]
        todo = [p for p in chosen if p.applies(oracle)]
        report.skipped = [p.key for p in chosen if p not in todo]
        used = 0
        for i, prop in enumerate(todo):
            # the budget left is shared by weight among the properties left: a property whose strategy runs
            # out of distinct cases early leaves its share to the others
            weights = sum(p.weight for p in todo[i:])
            quota = max(1, math.ceil((examples - used) * prop.weight / weights))
            prop_seed = zlib.crc32(f"{seed}:{prop.key}".encode())
            result = await asyncio.to_thread(_run_property, prop, oracle, quota, prop_seed, conn, progress)
            used += result.examples
            report.results.append(result)
            if progress is not None:
                progress("done", prop.key, result.examples, quota)
        conn.close()
        failed = {r.prop.key for r in report.failures}
        for r in report.results:
            if r.verdict == "fail" and failed & set(r.prop.subsumed_by):
                r.verdict = "subsumed"
        return report
    finally:
        await kit.close()
        await session.close()
        await listener.stop()
