"""What every human-readable report opens with: the findings, most severe first, each with why it matters,
how to fix it, the RFC sentence, the evidence and a ``curl`` that replays the probe.

A finding is a result with the verdict ``fail`` (a vulnerability: the attack got through) or ``deviation``
(refused, but not as the RFC says). Order: severity (critical … info), then vulnerabilities before
deviations, then target and catalog order; findings accepted by a baseline come after the open ones.
Errors (nothing could be verified) are listed apart: they are not findings about the target.

``advice`` is handed in by the caller (the catalog's remediation data): ``{scenario id: {"impact",
"remediation", "hints"}}``; a scenario without an entry gets none, never a made-up one.
"""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from .. import repro
from ..evidence import scrub
from ..runner import SEVERITIES, Result, RunReport

FAMILY_TITLES = OrderedDict([
    ("sig", "1. Signature and algorithm"), ("key", "2. Key selection"), ("time", "3. Claims and time"),
    ("claims", "3. Claims and time"), ("aud", "4. Audience, issuer, type and scope"),
    ("iss", "4. Audience, issuer, type and scope"), ("typ", "4. Audience, issuer, type and scope"),
    ("scope", "4. Audience, issuer, type and scope"), ("sub", "4. Audience, issuer, type and scope"),
    ("fmt", "5. Token format and parsing"), ("pkce", "6. PKCE"), ("redir", "7. Code flow and redirect URI"),
    ("authz", "7. Code flow and redirect URI"), ("tok", "8. Token endpoint"), ("rt", "9. Refresh tokens"),
    ("bearer", "10. Bearer usage and transport"), ("hyg", "11. Server hygiene"),
])
VERDICT_MARK = {"pass": "PASS", "fail": "FAIL", "deviation": "DEVIATE", "error": "ERROR", "not-applicable": "n/a"}
FINDING_VERDICTS = ("fail", "deviation")
MAX_PROBLEMS = 8
MAX_REPROS = 2


def family_title(r: Result) -> str:
    fam = r.scenario.family or r.id.split("-")[0]
    return FAMILY_TITLES.get(fam) or FAMILY_TITLES.get(r.id.split("-")[0]) or fam


def clean(text: str, report: RunReport) -> str:
    """A problem or message without the profile's secrets or full tokens."""
    return scrub(text, getattr(report, "secrets", [])) or ""


@dataclass
class Finding:
    number: int
    result: Result
    advice: dict[str, Any]
    accepted: Any = None            # the baseline entry that accepts it (harness.baseline.Entry), if any
    rules: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    repros: list[str] = field(default_factory=list)

    @property
    def kind(self) -> str:
        return "vulnerability" if self.result.verdict == "fail" else "deviation"

    @property
    def anchor(self) -> str:
        return f"f{self.number}"

    @property
    def title(self) -> str:
        r = self.result
        return f"{r.target}: {r.id}"


def accepted_entry(report: RunReport, r: Result) -> Any:
    """The baseline entry accepting this result, if the report was reviewed against a baseline."""
    baseline = getattr(report, "baseline", None)
    return baseline.accepted.get((r.target, r.id)) if baseline is not None else None


def _order(report: RunReport, r: Result, index: int) -> tuple:
    return (accepted_entry(report, r) is not None, SEVERITIES.index(r.severity), r.verdict != "fail", index)


def advice_for(r: Result, advice: dict[str, dict]) -> dict[str, Any]:
    """The advice for this result: for a deviation its ``deviation`` part (the answer is what to fix, not the
    attack, which was refused)."""
    a = advice.get(r.id) or {}
    if r.verdict == "deviation" and isinstance(a.get("deviation"), dict):
        return a["deviation"]
    return a


def collect(report: RunReport, advice: dict[str, dict] | None = None, reveal: bool = False) -> list[Finding]:
    """The findings of a run, in report order, numbered from 1."""
    advice = advice or {}
    rows = [(r, i) for i, r in enumerate(report.results) if r.verdict in FINDING_VERDICTS]
    rows.sort(key=lambda ri: _order(report, *ri))
    out = []
    for n, (r, _) in enumerate(rows, 1):
        rules = list(OrderedDict.fromkeys(getattr(p, "rule", "") for p in r.problems if getattr(p, "rule", "")))
        out.append(Finding(n, r, advice_for(r, advice), accepted_entry(report, r), rules,
                           [clean(p, report) for p in r.problems[:MAX_PROBLEMS]]
                           + ([f"… {len(r.problems) - MAX_PROBLEMS} more (the JSON report lists them all)"]
                              if len(r.problems) > MAX_PROBLEMS else []),
                           [repro.curl(ev, reveal) for ev in r.evidence[:MAX_REPROS]]))
    return out


def by_target(report: RunReport) -> list[tuple[str, list[Result]]]:
    """Each target that has results, with its results in catalog order."""
    out = [(t.name, [r for r in report.results if r.target == t.name]) for t in report.targets]
    return [(name, rs) for name, rs in out if rs]


def errors(report: RunReport) -> list[Result]:
    return [r for r in report.results if r.verdict == "error"]


def headline(findings: list[Finding]) -> str:
    """``3 open finding(s): 1 critical, 2 low; 1 accepted by the baseline.``"""
    open_ = [f for f in findings if f.accepted is None]
    if not findings:
        return "No findings."
    counts = OrderedDict((s, sum(1 for f in open_ if f.result.severity == s)) for s in SEVERITIES)
    parts = [f"{n} {s}" for s, n in counts.items() if n]
    text = f"{len(open_)} open finding(s)" + (f": {', '.join(parts)}" if parts else "")
    accepted = len(findings) - len(open_)
    return text + (f"; {accepted} accepted by the baseline" if accepted else "") + "."


def stale_notes(report: RunReport) -> list[str]:
    """One line per baseline entry that no longer applies (expired, or the finding is gone)."""
    baseline = getattr(report, "baseline", None)
    return baseline.notes() if baseline is not None else []


def signed_off_by(entry: Any) -> str:
    expires = f", expires {entry.expires.isoformat()}" if getattr(entry, "expires", None) else ""
    return f"accepted: {entry.reason}{expires}"
