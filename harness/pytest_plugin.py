"""pytest plugin: run the conformance review inside a team's own test suite.

``pytest --oauthlab-target profile.toml`` collects one test item per scenario that applies to the profile
(node id ``oauthlab/<target>::<scenario id>``). The whole catalog runs once, at the first item, exactly as
``run.py conformance --target`` runs it; then each item reports its result:

- a finding that fails the run (``--oauthlab-fail-on``, default low) fails, with the finding as the message:
  impact, fix, RFC sentence, evidence and a ``curl`` reproduction (tokens shortened);
- a finding accepted by ``--oauthlab-baseline FILE`` is an expected failure (xfail) with the reason;
- ``not-applicable`` is a skip with the reason; ``error`` (nothing verified) fails;
- a pass, or a deviation below the fail-on level, passes.

The catalog and its remediation advice are named by ``module:attribute`` (defaults: the catalog shipped
with oauthlab), so that the engine stays independent of any one catalog.
"""
from __future__ import annotations

import asyncio
import importlib
from typing import Any

import pytest

from . import baseline as baselines
from . import plan, runner
from .report.findings import collect
from .report.text import finding_lines
from .targets import load_profile

DEFAULT_CATALOG = "conformance:CATALOG"
DEFAULT_ADVICE = "conformance.remediation:REMEDIATION"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("oauthlab", "OAuth 2.0 / JWT conformance review (oauthlab)")
    group.addoption("--oauthlab-target", action="append", default=[], metavar="PROFILE",
                    help="review this target profile (TOML); repeatable")
    group.addoption("--oauthlab-only", action="append", default=[], metavar="ID|FAMILY",
                    help="only these scenario ids or families; repeatable")
    group.addoption("--oauthlab-fail-on", default="low", metavar="LEVEL",
                    choices=("critical", "high", "medium", "low", "info", "never"),
                    help="fail items for findings of at least this severity (default low)")
    group.addoption("--oauthlab-baseline", metavar="FILE", help="accepted findings (xfail instead of fail)")
    group.addoption("--oauthlab-catalog", default=DEFAULT_CATALOG, metavar="MODULE:NAME",
                    help=f"the scenario catalog (default {DEFAULT_CATALOG})")
    group.addoption("--oauthlab-advice", default=DEFAULT_ADVICE, metavar="MODULE:NAME",
                    help=f"impact and remediation per scenario id (default {DEFAULT_ADVICE}; '' for none)")
    group.addoption("--oauthlab-jobs", type=int, default=8, metavar="N", help="scenarios run concurrently")


def _load(ref: str) -> Any:
    module, _, attr = ref.partition(":")
    try:
        return getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as exc:
        raise pytest.UsageError(f"oauthlab: cannot load {ref!r} ({exc})") from None


class Review:
    """The run behind the items: started at the first item that needs it, shared by all."""

    def __init__(self, config: pytest.Config, targets: list, catalog: list) -> None:
        self.config, self.targets, self.catalog = config, targets, catalog
        ref = config.getoption("oauthlab_advice")
        self.advice = _load(ref) if ref else {}
        path = config.getoption("oauthlab_baseline")
        try:
            self.entries = baselines.load(path) if path else None
        except baselines.BaselineError as exc:
            raise pytest.UsageError(str(exc)) from None
        self.report: Any = None
        self.failure: str | None = None   # the run itself failed: every item says why
        self.by_key: dict[tuple[str, str], Any] = {}
        self.findings: dict[tuple[str, str], Any] = {}

    def result(self, target: str, scenario_id: str):
        if self.report is None and self.failure is None:
            try:
                self._run()
            except Exception as exc:  # noqa: BLE001 - reported by every item, not as a crash of the session
                self.failure = f"the review could not run: {type(exc).__name__}: {exc}"
        if self.failure is not None:
            raise ReviewFailure(self.failure)
        unreachable = next((t for t in self.report.targets if t.name == target and t.status != "ok"), None)
        if unreachable is not None:
            raise ReviewFailure(f"{target}: unreachable: {unreachable.message}")
        return self.by_key.get((target, scenario_id))

    def _run(self) -> None:
        report = asyncio.run(runner.run(self.targets, self.catalog, jobs=self.config.getoption("oauthlab_jobs")))
        report.fail_on = self.config.getoption("oauthlab_fail_on")
        if self.entries is not None:
            report = baselines.apply(report, self.entries)
        self.report = report
        self.by_key = {(r.target, r.id): r for r in report.results}
        self.findings = {(f.result.target, f.result.id): f for f in collect(report, self.advice)}


class ReviewFailure(Exception):
    """An item's failure: the message is the finding (or why nothing could be verified)."""


class ScenarioItem(pytest.Item):
    def __init__(self, *, review: Review, target: str, scenario: Any, **kw: Any) -> None:
        super().__init__(**kw)
        self.review, self.target, self.scenario = review, target, scenario
        self.add_marker(pytest.mark.oauthlab)
        self.user_properties.append(("refs", ", ".join(scenario.refs)))

    def runtest(self) -> None:
        r = self.review.result(self.target, self.scenario.id)
        if r is None:
            pytest.skip("not run")
        if r.verdict == "not-applicable":
            pytest.skip(r.reason or "not applicable")
        if r.verdict == "error":
            raise ReviewFailure(f"{self.target}: {r.id}: not verified: {r.reason or '; '.join(r.problems)}")
        finding = self.review.findings.get((self.target, r.id))
        if finding is None:
            return
        if finding.accepted is not None:
            pytest.xfail(f"accepted by the baseline: {finding.accepted.reason}")
        if self.review.report.failing(r):
            raise ReviewFailure("\n".join(finding_lines(finding)))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        if isinstance(excinfo.value, ReviewFailure):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> tuple[Any, int | None, str]:
        return self.path, None, f"oauthlab {self.target}: {self.scenario.id}"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "oauthlab: a conformance scenario run against a target profile")


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list) -> None:
    paths = config.getoption("oauthlab_target")
    if not paths:
        return
    try:
        targets = [load_profile(p) for p in paths]
    except Exception as exc:  # noqa: BLE001 - ProfileError: one line naming the field
        raise pytest.UsageError(f"oauthlab: {exc}") from None
    catalog = runner.select(_load(config.getoption("oauthlab_catalog")), config.getoption("oauthlab_only"))
    review = Review(config, targets, catalog)
    for target in targets:
        tr = plan.offline(target, catalog)
        for s in catalog:
            if plan.applicable_half(tr, s):
                items.append(ScenarioItem.from_parent(session, name=s.id, nodeid=f"oauthlab/{target.name}::{s.id}",
                                                      review=review, target=target.name, scenario=s))
