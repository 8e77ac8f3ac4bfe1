"""SARIF 2.1.0 (OASIS Static Analysis Results Interchange Format) for code-scanning dashboards.

One rule per scenario of the run (summary, help with the remediation and its library hints, the RFC
references, ``security-severity`` from the catalog's rating), one result per finding (vulnerability or
deviation, most severe first) at the level its severity maps to, located at the target URL that was probed. Findings accepted
by a baseline carry an external suppression with the reason; errors (nothing verified) are tool execution
notifications, not results. Tokens stay shortened (the evidence is secret-free).
"""
from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from . import repro
from .report.findings import accepted_entry, clean, collect
from .runner import Result, RunReport

SARIF_SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
LEVELS = {"critical": "error", "high": "error", "medium": "warning", "low": "note", "info": "note"}
# GitHub code scanning reads properties["security-severity"] (0.0-10.0) of a rule to rank security alerts.
SECURITY_SEVERITY = {"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "3.0", "info": "0.5"}


def _location_uri(r: Result, base_url: str) -> str:
    """The probed URL without query or fragment (a query may hold a token), else the target's base URL."""
    url = r.evidence[0]["request"]["url"] if r.evidence else base_url
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", "")) if parts.scheme else base_url


def _rule(r: Result, advice: dict) -> dict[str, Any]:
    s = r.scenario
    a = advice.get(s.id) or {}
    hints = a.get("hints", [])
    help_text = " ".join(x for x in (a.get("impact", ""), a.get("remediation", "")) if x) or s.summary
    help_md = "\n".join([f"**Impact:** {a['impact']}" if a.get("impact") else "",
                         f"**Fix:** {a['remediation']}" if a.get("remediation") else "",
                         *[f"- {h}" for h in hints], "", "References: " + ", ".join(s.refs)]).strip()
    return {"id": s.id, "name": "".join(w.capitalize() for w in s.id.split("-")),
            "shortDescription": {"text": s.summary},
            "fullDescription": {"text": s.rationale or s.summary},
            "help": {"text": help_text + (" " + " ".join(hints) if hints else "") + " References: "
                     + ", ".join(s.refs), "markdown": help_md},
            "defaultConfiguration": {"level": LEVELS[s.severity]},
            "properties": {"tags": ["security", "oauth", s.family or s.id.split("-")[0]],
                           "references": list(s.refs), "security-severity": SECURITY_SEVERITY[s.severity],
                           "precision": "high"}}


def _result(r: Result, index: int, report: RunReport, base_url: str) -> dict[str, Any]:
    problems = [clean(p, report) for p in r.problems]
    rules = sorted({getattr(p, "rule", "") for p in r.problems} - {""})
    kind = "vulnerability" if r.verdict == "fail" else "deviation"
    out: dict[str, Any] = {
        "ruleId": r.id, "ruleIndex": index, "level": LEVELS[r.severity], "kind": "fail",
        "message": {"text": f"{r.target}: {kind} ({r.severity}): " + ("; ".join(problems[:3]) or r.scenario.summary)},
        "locations": [{"physicalLocation": {"artifactLocation": {"uri": _location_uri(r, base_url)}}}],
        "partialFingerprints": {"oauthlabFinding/v1": f"{r.target}/{r.id}"},
        "properties": {"target": r.target, "verdict": r.verdict, "severity": r.severity, "problems": problems,
                       "rules": rules, "repro": [repro.curl(ev) for ev in r.evidence]},
    }
    entry = accepted_entry(report, r)
    if entry is not None:
        out["suppressions"] = [{"kind": "external", "status": "accepted", "justification": entry.reason}]
    return out


def to_sarif_dict(report: RunReport, advice: dict | None = None) -> dict[str, Any]:
    advice = advice or {}
    rules: dict[str, int] = {}
    rule_objects: list[dict] = []
    for r in report.results:
        if r.id not in rules:
            rules[r.id] = len(rule_objects)
            rule_objects.append(_rule(r, advice))
    bases = {t.name: t.base_url for t in report.targets}
    results = [_result(f.result, rules[f.result.id], report, bases.get(f.result.target, "")) for f in collect(report)]
    notes = [{"level": "error", "message": {"text": f"{r.target}: {r.id}: not verified: "
                                                    f"{clean(r.reason or (r.problems or [''])[0], report)}"}}
             for r in report.results if r.verdict == "error"]
    notes += [{"level": "error", "message": {"text": f"{t.name}: unreachable: {clean(t.message, report)}"}}
              for t in report.targets if t.status != "ok"]
    baseline = getattr(report, "baseline", None)
    notes += [{"level": "warning", "message": {"text": n}} for n in (baseline.notes() if baseline else [])]
    return {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [{
        "tool": {"driver": {"name": "oauthlab", "fullName": "oauthlab conformance", "version": "0.1.0",
                            "semanticVersion": "0.1.0", "rules": rule_objects}},
        "invocations": [{"executionSuccessful": not notes or all(n["level"] != "error" for n in notes),
                         "toolExecutionNotifications": notes}],
        "results": results,
        "properties": {"targets": [{"name": t.name, "base_url": t.base_url, "status": t.status}
                                   for t in report.targets]}}]}


def to_sarif(report: RunReport, not_applicable: dict[str, str] | None = None, advice: dict | None = None) -> str:
    return json.dumps(to_sarif_dict(report, advice), indent=2, ensure_ascii=False) + "\n"
