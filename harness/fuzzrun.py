"""Run the fuzzer's properties (harness/fuzzprops.py) against one resource server and collect every failure.

Hypothesis stops a property at its first failure and shrinks it; so each property runs as its own
hypothesis test, one after the other, with its own share of the example budget and its own seed (derived
from ``seed`` and the property's key, so one property's draws never shift another's). Hypothesis runs in a
worker thread; the requests go through this event loop over one keep-alive session (targets in the same
process, e.g. test servers, keep being served).
"""
from __future__ import annotations

import asyncio
import math
import zlib
from dataclasses import dataclass, field
from typing import Any, Callable

import aiohttp
from hypothesis import HealthCheck, Phase, Verbosity, given, seed as hyp_seed, settings
from yarl import URL

from .client import send
from .fuzz import Case, Oracle, Property
from .fuzzprops import PROPERTIES
from .listener import Listener
from .rskit import RSKit
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


def _run_property(prop: Property, oracle: Oracle, quota: int, seed: int, url: str, session: aiohttp.ClientSession,
                  loop: asyncio.AbstractEventLoop, progress: Progress | None) -> PropertyResult:
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
        obs = asyncio.run_coroutine_threadsafe(send(session, "GET", URL(url, encoded=True), label=prop.key,
                                                    headers=headers), loop).result()
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
            result.curl = result.case.curl(url)
        else:
            result.verdict, result.error = "error", f"{exc.__class__.__name__}: {str(exc)[:300]}"
    return result


async def fuzz(target: Target, examples: int = 2000, seed: int = 0, progress: Progress | None = None,
               only: tuple[str, ...] = ()) -> FuzzReport:
    """Run every applicable property against ``target`` with about ``examples`` examples in all."""
    loop = asyncio.get_running_loop()
    listener = await Listener().start()
    session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10), cookie_jar=aiohttp.DummyCookieJar(),
                                    connector=aiohttp.TCPConnector(limit=4))
    kit = RSKit(target, session, listener)
    try:
        await kit.prepare()
        oracle = Oracle.of(kit)
        url = target.url(kit.profile.endpoint)
        report = FuzzReport(target.name, url, seed)
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
            result = await asyncio.to_thread(_run_property, prop, oracle, quota, prop_seed, url, session, loop,
                                             progress)
            used += result.examples
            report.results.append(result)
            if progress is not None:
                progress("done", prop.key, result.examples, quota)
        failed = {r.prop.key for r in report.failures}
        for r in report.results:
            if r.verdict == "fail" and failed & set(r.prop.subsumed_by):
                r.verdict = "subsumed"
        return report
    finally:
        await kit.close()
        await session.close()
        await listener.stop()
