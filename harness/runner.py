"""The engine: run a catalog of scenarios against targets and collect results.

- Never stops at the first failure; every scenario gets a verdict: pass / fail / deviation / error /
  not-applicable. ``fail``: the attack got through (a vulnerability, at the scenario's severity).
  ``deviation``: the attack was refused, but not as the RFC prescribes (severity ``low`` for a MUST,
  ``info`` for a SHOULD). See ``harness.scenario.Problem``.
- Per target, in this order: reach it and get valid tokens (before anything can trip a throttle), the
  positive controls, the attacks (``--jobs`` at a time, over all targets), the controls again, and last,
  one at a time, the scenarios tagged ``disruptive`` (brute force and the like).
- Controls run before AND after the attacks: if a valid token does not work before the attacks, the
  target is broken (or its profile wrong) and its resource-server attacks are reported as ``error``
  instead of "secure because it rejects everything". A failed control never hides an accepted forgery:
  the signature and key forgeries (families ``sig`` and ``key``) still run, and any that is ACCEPTED is
  reported as the vulnerability it is; the others stay ``error`` with the reason.
- Scenarios tagged ``slow`` (they wait minutes) run only when asked (``slow=True``, ``--slow``); otherwise
  they are ``not-applicable`` with the reason "slow: run with --slow".
- A target that declares ``rfc9068 = true`` is judged with RFC 9068 §4's stricter keywords
  (``Problem.strict``: ``invalid_token`` becomes a MUST).
- Findings carry the severity and secret-free evidence (harness/evidence.py).

``harness`` never imports ``servers`` or ``conformance``: the caller hands over targets and catalog.
"""
from __future__ import annotations

import asyncio
import inspect
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Sequence

import aiohttp

from . import askit, capabilities
from .checks import ACCEPTED_RULE
from .evidence import evidence
from .listener import Listener
from .progress import Progress
from .rskit import RSKit, TargetUnavailable
from .scenario import VERDICTS, NotApplicable, Observation, Problem, Scenario, impact_of
from .targets import Target

SEVERITIES = ("critical", "high", "medium", "low", "info")
MAX_EVIDENCE = 4
# Families whose attacks are forgeries of the signature or the key: run even when the control failed, because
# a target that rejects valid tokens may still ACCEPT a forged one (and that must be reported).
FORGERY_FAMILIES = ("sig", "key")


@dataclass
class Result:
    scenario: Scenario
    target: str
    verdict: str
    problems: list[str] = field(default_factory=list)
    evidence: list[dict] = field(default_factory=list)
    reason: str = ""
    probes: int = 0
    duration: float = 0.0

    @property
    def id(self) -> str:
        return self.scenario.id

    @property
    def severity(self) -> str:
        """What this result weighs: the scenario's rating for a vulnerability (and for pass/error/n/a, the
        rating of what was checked); ``low`` for a deviation from a MUST, ``info`` for one from a SHOULD."""
        if self.verdict == "deviation":
            return "low" if any(getattr(p, "keyword", "MUST") == "MUST" for p in self.problems) else "info"
        return self.scenario.severity


@dataclass
class TargetInfo:
    name: str
    kind: str
    base_url: str
    status: str = "ok"           # ok | unreachable
    message: str = ""
    capabilities: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class RunReport:
    results: list[Result]
    targets: list[TargetInfo]
    started: float
    duration: float
    jobs: int
    secrets: list[str] = field(default_factory=list, repr=False)  # to redact from every report

    @property
    def unreachable(self) -> list[TargetInfo]:
        return [t for t in self.targets if t.status != "ok"]

    def counts(self) -> dict[str, int]:
        out = {v: 0 for v in VERDICTS}
        for r in self.results:
            out[r.verdict] += 1
        return out

    fail_on: str = "low"

    def failing(self, r: Result) -> bool:
        """Does this result fail the run? Errors always do (nothing was verified); findings (vulnerabilities
        and deviations) when their severity is at least ``fail_on`` (``never``: findings never fail)."""
        if r.verdict == "error":
            return True
        if r.verdict not in ("fail", "deviation") or self.fail_on == "never":
            return False
        return SEVERITIES.index(r.severity) <= SEVERITIES.index(self.fail_on)

    def exit_code(self) -> int:
        """0: nothing at or above ``fail_on`` and no error; 1: findings or errors; 2: a target was unreachable."""
        if self.unreachable:
            return 2
        return 1 if any(self.failing(r) for r in self.results) else 0


def select(catalog: Sequence[Scenario], only: Iterable[str] = (), skip: Iterable[str] = (),
           severity: str | None = None) -> list[Scenario]:
    """Filter the catalog by id or family (``--only``/``--skip``) and minimum severity. Controls stay when
    their family is selected, and always when only a severity is given."""
    only, skip = list(only), list(skip)

    def match(s: Scenario, names: list[str]) -> bool:
        return any(n == s.id or n == s.family or (n.endswith("*") and s.id.startswith(n[:-1])) for n in names)

    out = []
    for s in catalog:
        if only and not match(s, only):
            continue
        if skip and match(s, skip):
            continue
        if severity and not s.control and SEVERITIES.index(s.severity) > SEVERITIES.index(severity):
            continue
        out.append(s)
    return out


def unknown_selectors(catalog: Sequence[Scenario], names: Iterable[str]) -> list[str]:
    ids = {s.id for s in catalog} | {s.family for s in catalog}
    return [n for n in names if n not in ids and not (n.endswith("*") and any(i.startswith(n[:-1]) for i in ids))]


class TargetRun:
    """Everything about one target during a run."""

    def __init__(self, target: Target, scenarios: list[Scenario], session: aiohttp.ClientSession,
                 listener: Listener, sem: asyncio.Semaphore, progress: Progress, slow: bool = False) -> None:
        self.target, self.scenarios, self.session = target, scenarios, session
        self.listener, self.sem, self.progress = listener, sem, progress
        self.info = TargetInfo(target.name, target.kind, target.base_url)
        self.rs: RSKit | None = None
        self.as_kit: Any = None
        self.as_kit_error: str | None = None
        self.caps: set[str] = capabilities.profile_capabilities(target, slow)
        self.rfc9068 = target.resource is not None and target.resource.rfc9068
        self.secrets = target.secrets()
        self.results: dict[str, Result] = {}

    # -- capabilities ------------------------------------------------------------------------------------
    def missing(self, s: Scenario) -> list[str]:
        return capabilities.missing(s, self.caps)

    async def prepare(self) -> None:
        t = self.target
        if t.resource is not None and any(s.applies_to == "resource-server" for s in self.scenarios):
            self.rs = RSKit(t, self.session, self.listener)
            await self.rs.prepare()  # TargetUnavailable propagates
            self.caps |= self.rs.capabilities
            self.info.notes += self.rs.notes
        wanted = [s for s in self.scenarios if s.applies_to != "resource-server" and not self.missing(s)]
        if wanted:
            try:
                self.as_kit = await askit.build_kit(t, self.session)
            except TargetUnavailable:
                raise
            except Exception as exc:  # noqa: BLE001 - reported as the error of those scenarios
                if type(exc).__name__ in ("TargetUnavailable", "Unreachable"):
                    raise TargetUnavailable(str(exc)) from None
                self.as_kit_error = f"{type(exc).__name__}: {exc}"
        self.info.capabilities = sorted(self.caps)

    # -- executing ----------------------------------------------------------------------------------------
    async def execute(self, s: Scenario) -> tuple[str, list[str], list[dict], int, str]:
        """Run one scenario: (verdict, problems, evidence, probes sent, reason)."""
        observations: list[tuple[Observation, list[str]]] = []
        after_problems: list[str] = []
        try:
            if s.applies_to == "resource-server":
                assert self.rs is not None
                probes = s.mutate(self.rs)
                if inspect.isawaitable(probes):
                    probes = await probes
                for probe in probes:
                    obs = await self.rs.send_probe(probe)
                    check = probe.expect or s.expect
                    observations.append((obs, check(obs)))
                if s.after is not None:
                    after_problems = list(s.after(self.rs))
            else:
                if self.as_kit_error:
                    return "error", [], [], 0, f"the authorization-server kit failed: {self.as_kit_error}"
                result = await s.mutate(self.as_kit)
                for obs in result:
                    observations.append((obs, s.expect(obs)))
        except NotApplicable as exc:
            return "not-applicable", [], [], len(observations), str(exc)
        except Exception as exc:  # noqa: BLE001 - a harness error is a verdict, never a crash of the run
            return "error", [], [], len(observations), f"{type(exc).__name__}: {exc}"
        problems: list[str] = []
        ev: list[dict] = []
        transport_only = True
        # what got through first (problems and evidence): a vulnerability is never buried under deviations
        observations.sort(key=lambda o: not any(impact_of(p) == "vulnerability" for p in o[1]))
        for obs, probs in observations:
            if probs:
                problems += [self.judged(p, s).relabel(f"{obs.label}: {p}") if obs.label else self.judged(p, s)
                             for p in probs]
                transport_only &= all(p.startswith("no response") for p in probs)
                if len(ev) < MAX_EVIDENCE:
                    ev.append(evidence(obs, self.secrets, probs))
        problems += [self.judged(p, s) for p in after_problems]
        if after_problems:
            transport_only = False
        if not observations and not after_problems and s.applies_to == "resource-server":
            return "not-applicable", [], [], 0, "no probe applies to this target"
        if not problems:
            return "pass", [], [], len(observations), ""
        if transport_only:
            return "error", problems, ev, len(observations), "no response from the target for some probes"
        verdict = "fail" if any(impact_of(p) == "vulnerability" for p in problems) else "deviation"
        return verdict, problems, ev, len(observations), ""

    def judged(self, p: str, s: Scenario | None = None) -> Problem:
        """A check's problem as a ``Problem``: an acceptance without a rule of its own carries the scenario's rule;
        RFC 9068 §4's stricter keyword applies for targets that declare it."""
        problem = _problem(p)
        if s is not None and s.rule and problem.impact == "vulnerability" and problem.rule in ("", ACCEPTED_RULE):
            problem = Problem(str(problem), problem.impact, problem.keyword, s.rule, problem.strict)
        return problem.strictly() if self.rfc9068 else problem

    async def run_one(self, s: Scenario, phase: str = "") -> Result:
        async with self.sem:
            start = time.monotonic()
            verdict, problems, ev, n, reason = await self.execute(s)
            return Result(s, self.target.name, verdict, problems, ev, reason, n, time.monotonic() - start)

    async def close(self) -> None:
        """Release what ``prepare`` opened (the resource-server kit, the authorization-server kit)."""
        if self.rs is not None:
            await self.rs.close()
        close = getattr(self.as_kit, "close", None)
        if close is not None:
            res = close()
            if inspect.isawaitable(res):
                await res

    def set_phase(self, phase: str) -> None:
        """Controls can be lighter before the attacks (``kit.phase == "before"``) than after them."""
        if self.rs is not None:
            self.rs.phase = phase

    def record(self, result: Result) -> None:
        self.results[result.id] = result
        self.progress.update(result)

    async def run(self) -> list[Result]:
        applicable: list[Scenario] = []
        for s in self.scenarios:
            missing = self.missing(s)
            if missing:
                reason = capabilities.reason(missing[:1] if missing[0] == "slow" else missing)
                self.record(Result(s, self.target.name, "not-applicable", reason=reason))
            else:
                applicable.append(s)
        controls = [s for s in applicable if s.control]
        attacks = [s for s in applicable if not s.control and "disruptive" not in s.tags]
        disruptive = [s for s in applicable if not s.control and "disruptive" in s.tags]
        self.progress.add_total(len(controls))  # controls are reported once but run twice

        self.set_phase("before")
        before = await asyncio.gather(*(self.run_one(s, "before") for s in controls))
        for r in before:
            self.progress.update(r)
        broken = [r for r in before if r.verdict != "pass" and r.scenario.applies_to == "resource-server"]
        rs_attacks = [s for s in attacks if s.applies_to == "resource-server"]
        forgeries: set[str] = set()
        if broken:
            why = (f"the control {broken[0].id} failed before the attacks ({(broken[0].problems or [broken[0].reason])[0]}):"
                   " the target rejects valid tokens or the profile is wrong, so rejections prove nothing")
            forgeries = {s.id for s in rs_attacks if s.family in FORGERY_FAMILIES}
            for s in rs_attacks:
                if s.id not in forgeries:
                    self.record(Result(s, self.target.name, "error", reason=why))
            attacks = [s for s in attacks if s.applies_to != "resource-server" or s.id in forgeries]

        async def attack(s: Scenario) -> None:
            result = await self.run_one(s)
            if s.id in forgeries and result.verdict != "fail":
                # only an ACCEPTED forgery means something when valid tokens are refused
                result = Result(s, self.target.name, "error", reason=why, probes=result.probes,
                                duration=result.duration)
            self.record(result)

        self.set_phase("attacks")
        await asyncio.gather(*(attack(s) for s in attacks))
        self.set_phase("after")
        after = await asyncio.gather(*(self.run_one(s, "after") for s in controls))
        for b, a in zip(before, after):
            merged = Result(b.scenario, b.target, "pass", probes=b.probes + a.probes, duration=b.duration + a.duration)
            for phase, r in (("before the attacks", b), ("after the attacks", a)):
                if r.verdict in ("fail", "deviation", "error"):
                    merged.verdict = next(v for v in ("fail", "error", "deviation") if v in (b.verdict, a.verdict))
                    merged.problems += [_problem(p).relabel(f"{phase}: {p}") for p in r.problems]
                    merged.evidence += r.evidence
                    merged.reason = merged.reason or (f"{phase}: {r.reason}" if r.reason else "")
                elif r.verdict == "not-applicable" and merged.verdict == "pass":
                    merged.verdict, merged.reason = "not-applicable", r.reason
            merged.evidence = merged.evidence[:MAX_EVIDENCE]
            self.results[b.id] = merged
            self.progress.update(a)
        for s in disruptive:
            self.record(await self.run_one(s))
        order = {s.id: i for i, s in enumerate(self.scenarios)}
        return sorted(self.results.values(), key=lambda r: order[r.id])


def _problem(p: str) -> Problem:
    """A check's problem as a ``Problem`` (a plain str is a vulnerability)."""
    return p if isinstance(p, Problem) else Problem(p)


async def run(targets: Sequence[Target], catalog: Sequence[Scenario], *, jobs: int = 8,
              progress: Progress | None = None, timeout: float = 10.0, slow: bool = False,
              on_target_error: Callable[[TargetInfo], None] | None = None) -> RunReport:
    """Run ``catalog`` against every target. Unreachable targets are reported (status "unreachable"), not
    raised; the others are still run. Scenarios tagged ``slow`` run only with ``slow=True``."""
    started = time.time()
    t0 = time.monotonic()
    progress = progress or Progress(0, enabled=False)
    progress.add_total(len(catalog) * len(targets))
    sem = asyncio.Semaphore(max(1, jobs))
    listener = await Listener().start()
    connector = aiohttp.TCPConnector(limit=max(16, jobs * 4))
    session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout), connector=connector,
                                    cookie_jar=aiohttp.DummyCookieJar())
    runs = [TargetRun(t, list(catalog), session, listener, sem, progress, slow) for t in targets]
    results: list[Result] = []
    try:
        async def one(tr: TargetRun) -> list[Result]:
            try:
                await tr.prepare()
            except TargetUnavailable as exc:
                tr.info.status, tr.info.message = "unreachable", str(exc)
                if on_target_error:
                    on_target_error(tr.info)
                return []
            try:
                return await tr.run()
            finally:
                await tr.close()

        for part in await asyncio.gather(*(one(tr) for tr in runs)):
            results += part
    finally:
        await session.close()
        await listener.stop()
        progress.finish()
    secrets = sorted({s for t in targets for s in t.secrets()})
    return RunReport(results, [tr.info for tr in runs], started, time.monotonic() - t0, jobs, secrets)
