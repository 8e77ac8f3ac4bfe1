"""Reports of a run: the terminal report, JSON (stable schema), JUnit XML, a Markdown security review, a
single-file HTML report (harness/report/: findings first, then the checklist) and SARIF 2.1.0
(harness/sarif.py). Evidence is already secret-free (harness/evidence.py); the reporters add no token or
secret of their own (problems and reasons are scrubbed once more on the way out), except the ``curl``
reproductions with ``reveal=True``, which are for local use only.

JSON schema (``schema_version`` 2; fields are only ever added, a breaking change bumps the version; 2: the
``deviation`` verdict, ``severity`` is what the result weighs and ``rated_severity`` the scenario's rating,
problems are objects)::

    {"schema_version": 2, "tool": "oauthlab conformance", "started": "<ISO 8601 UTC>", "duration_s": 1.23,
     "jobs": 8, "exit_code": 0,
     "summary": {"pass": n, "fail": n, "deviation": n, "error": n, "not-applicable": n},
     "targets": [{"name", "kind", "base_url", "status": "ok"|"unreachable", "message", "capabilities": [..],
                  "notes": [..]}],
     "results": [{"target", "id", "family", "summary", "refs": [..], "applies_to", "severity",
                  "rated_severity", "control",
                  "verdict": "pass"|"fail"|"deviation"|"error"|"not-applicable", "reason",
                  "problems": [{"text", "impact": "vulnerability"|"deviation", "keyword": "MUST"|"SHOULD", "rule"}],
                  "evidence": [{"label", "request": {"method", "url", "headers", "body"},
                                "response": {"status", "headers", "body_excerpt", "elapsed_ms", "error"},
                                "problems": [..]}],
                  "probes": n, "duration_ms": n,
                  "advice": {"impact", "remediation", "hints": [..]} | null,
                  "repro": ["curl ..."], "accepted": {"reason", "expires"} | null}],
     "findings": [{"target", "id", "verdict", "severity", "accepted": bool}]   (most severe first),
     "baseline": {"accepted": n, "notes": [..]} | null,
     "not_applicable_rows": [{"id", "reason"}]}
"""
from __future__ import annotations

import datetime
import json
import os
import xml.etree.ElementTree as ET
from collections import OrderedDict
from typing import Any, Iterable

from . import repro, sarif
from .report.findings import FAMILY_TITLES, VERDICT_MARK, accepted_entry, collect, family_title  # noqa: F401
from .report.findings import clean as _clean
from .report.html import to_html
from .report.markdown import to_markdown
from .report.text import text
from .runner import Result, RunReport

SCHEMA_VERSION = 2


# -- JSON ----------------------------------------------------------------------------------------------
def result_dict(r: Result, report: RunReport, advice: dict | None = None) -> dict[str, Any]:
    s = r.scenario
    entry = accepted_entry(report, r)
    return {"target": r.target, "id": s.id, "family": s.family, "summary": s.summary, "refs": list(s.refs),
            "applies_to": s.applies_to, "severity": r.severity, "rated_severity": s.severity, "control": s.control,
            "verdict": r.verdict, "reason": _clean(r.reason, report),
            "problems": [{"text": _clean(p, report), "impact": getattr(p, "impact", "vulnerability"),
                          "keyword": getattr(p, "keyword", "MUST"), "rule": getattr(p, "rule", "")}
                         for p in r.problems],
            "evidence": r.evidence, "probes": r.probes, "duration_ms": round(r.duration * 1000, 1),
            "advice": (advice or {}).get(s.id), "repro": [repro.curl(ev) for ev in r.evidence],
            "accepted": None if entry is None else {"reason": entry.reason, "expires": entry.expires and
                                                    entry.expires.isoformat()}}


def to_dict(report: RunReport, not_applicable: dict[str, str] | None = None,
            advice: dict | None = None) -> dict[str, Any]:
    baseline = getattr(report, "baseline", None)
    return {
        "schema_version": SCHEMA_VERSION,
        "tool": "oauthlab conformance",
        "started": datetime.datetime.fromtimestamp(report.started, datetime.timezone.utc).isoformat(timespec="seconds"),
        "duration_s": round(report.duration, 2),
        "jobs": report.jobs,
        "exit_code": report.exit_code(),
        "summary": report.counts(),
        "targets": [{"name": t.name, "kind": t.kind, "base_url": t.base_url, "status": t.status,
                     "message": t.message, "capabilities": t.capabilities, "notes": t.notes} for t in report.targets],
        "findings": [{"target": f.result.target, "id": f.result.id, "verdict": f.result.verdict,
                      "severity": f.result.severity, "accepted": f.accepted is not None} for f in collect(report)],
        "results": [result_dict(r, report, advice) for r in report.results],
        "baseline": None if baseline is None else {"accepted": len(baseline.accepted), "notes": baseline.notes()},
        "not_applicable_rows": [{"id": k, "reason": v} for k, v in sorted((not_applicable or {}).items())],
    }


def to_json(report: RunReport, not_applicable: dict[str, str] | None = None, advice: dict | None = None) -> str:
    return json.dumps(to_dict(report, not_applicable, advice), indent=2, ensure_ascii=False) + "\n"


# -- JUnit -----------------------------------------------------------------------------------------------
def to_junit(report: RunReport) -> str:
    """One <testsuite> per target, one <testcase> per scenario; fail -> <failure>, error -> <error>,
    not-applicable -> <skipped>."""
    suites = ET.Element("testsuites", name="oauthlab conformance", time=f"{report.duration:.3f}")
    by_target: dict[str, list[Result]] = OrderedDict()
    for r in report.results:
        by_target.setdefault(r.target, []).append(r)
    for t in report.targets:
        if t.status != "ok":
            suite = ET.SubElement(suites, "testsuite", name=t.name, tests="1", failures="0", errors="1", skipped="0")
            case = ET.SubElement(suite, "testcase", classname=f"conformance.{t.name}", name="reachability")
            ET.SubElement(case, "error", message=_clean(t.message, report)[:300])
    for target, results in by_target.items():
        c = {v: sum(1 for r in results if r.verdict == v) for v in VERDICT_MARK}
        suite = ET.SubElement(suites, "testsuite", name=target, tests=str(len(results)), failures=str(c["fail"]),
                              errors=str(c["error"]), skipped=str(c["not-applicable"]),
                              time=f"{sum(r.duration for r in results):.3f}")
        for r in results:
            case = ET.SubElement(suite, "testcase", classname=f"conformance.{target}.{r.scenario.family}",
                                 name=f"{r.id} [{r.scenario.severity}]", time=f"{r.duration:.3f}")
            body = "\n".join(_clean(p, report) for p in r.problems)
            if r.evidence:
                body += "\n\nevidence:\n" + json.dumps(r.evidence, indent=1, ensure_ascii=False)
            if r.verdict in ("fail", "deviation") and accepted_entry(report, r) is None:
                el = ET.SubElement(case, "failure", message=_clean((r.problems or ["failed"])[0], report)[:300],
                                   type=r.severity)
                el.text = body
            elif r.verdict == "error":
                el = ET.SubElement(case, "error", message=_clean(r.reason or (r.problems or ["error"])[0], report)[:300])
                el.text = body
            elif r.verdict == "not-applicable":
                ET.SubElement(case, "skipped", message=_clean(r.reason, report)[:300])
            props = ET.SubElement(case, "properties")
            ET.SubElement(props, "property", name="refs", value=", ".join(r.scenario.refs))
            ET.SubElement(props, "property", name="summary", value=r.scenario.summary)
            entry = accepted_entry(report, r)
            if entry is not None:
                ET.SubElement(props, "property", name="accepted", value=entry.reason)
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"


FORMATS = {"text": ("txt", None), "json": ("json", to_json), "junit": ("xml", to_junit),
           "markdown": ("md", to_markdown), "html": ("html", to_html), "sarif": ("sarif", sarif.to_sarif)}


def render(fmt: str, report: RunReport, not_applicable: dict[str, str] | None = None, color: bool = False,
           verbose: bool = False, advice: dict | None = None, reveal: bool = False) -> str:
    """One report as text. ``advice``: the catalog's impact/remediation per scenario id; ``reveal``: the
    curl reproductions carry tokens and credentials in full (local use only)."""
    if fmt == "text":
        return text(report, color=color, verbose=verbose, advice=advice, reveal=reveal)
    if fmt == "junit":
        return to_junit(report)
    if fmt in ("markdown", "html"):
        return FORMATS[fmt][1](report, not_applicable, advice=advice, reveal=reveal)  # type: ignore[misc]
    return FORMATS[fmt][1](report, not_applicable, advice=advice)  # type: ignore[misc]


def write_reports(report: RunReport, formats: Iterable[str], out_dir: str, not_applicable: dict[str, str] | None,
                  basename: str = "conformance", advice: dict | None = None, reveal: bool = False) -> list[str]:
    os.makedirs(out_dir, exist_ok=True)
    written = []
    for fmt in formats:
        ext = FORMATS[fmt][0]
        path = os.path.join(out_dir, f"{basename}.{ext}")
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(render(fmt, report, not_applicable, advice=advice, reveal=reveal))
        written.append(path)
    return written
