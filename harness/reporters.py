"""Reports of a run: terminal table, JSON (stable schema), JUnit XML, a Markdown security-review checklist
and a single-file HTML report. Evidence is already secret-free (harness/evidence.py); the reporters add
no token or secret of their own (problems and reasons are scrubbed once more on the way out).

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
                  "probes": n, "duration_ms": n}],
     "not_applicable_rows": [{"id", "reason"}]}
"""
from __future__ import annotations

import datetime
import html
import json
import os
import xml.etree.ElementTree as ET
from collections import OrderedDict
from typing import Any, Iterable

from .evidence import scrub
from .runner import Result, RunReport

SCHEMA_VERSION = 2
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
COLORS = {"pass": "32", "fail": "31", "deviation": "35", "error": "33", "not-applicable": "90"}


def family_title(r: Result) -> str:
    fam = r.scenario.family or r.id.split("-")[0]
    return FAMILY_TITLES.get(fam) or FAMILY_TITLES.get(r.id.split("-")[0]) or fam


def _secrets(report: RunReport) -> list[str]:
    return getattr(report, "secrets", [])


def _clean(text: str, report: RunReport) -> str:
    return scrub(text, _secrets(report)) or ""


# -- terminal ------------------------------------------------------------------------------------------
def text(report: RunReport, color: bool = False, verbose: bool = False) -> str:
    """The terminal table: target, scenario, refs, verdict, severity; then the problems of each finding."""
    def paint(verdict: str, s: str) -> str:
        return f"\x1b[{COLORS[verdict]}m{s}\x1b[0m" if color else s

    lines = []
    for t in report.targets:
        if t.status != "ok":
            lines.append(f"{t.name}: UNREACHABLE: {t.message}")
    width = max([len(r.id) for r in report.results] + [8])
    by_target: dict[str, list[Result]] = OrderedDict()
    for r in report.results:
        by_target.setdefault(r.target, []).append(r)
    for target, results in by_target.items():
        info = next((t for t in report.targets if t.name == target), None)
        lines.append("")
        lines.append(f"== {target} ({info.base_url if info else ''})")
        lines += [f"   note: {_clean(n, report)}" for n in (info.notes if info else [])]
        lines.append(f"   {'scenario':<{width}}  {'verdict':<7}  {'severity':<8}  refs")
        for r in results:
            if r.verdict == "not-applicable" and not verbose:
                continue
            mark = paint(r.verdict, f"{VERDICT_MARK[r.verdict]:<7}")
            lines.append(f"   {r.id:<{width}}  {mark}  {r.severity:<8}  {', '.join(r.scenario.refs[:3])}")
            if r.verdict in ("fail", "deviation", "error"):
                for p in (r.problems or [r.reason])[:5]:
                    lines.append(f"   {'':<{width}}    - {_clean(p, report)[:200]}")
                if len(r.problems) > 5:
                    lines.append(f"   {'':<{width}}    - … {len(r.problems) - 5} more (see the JSON or Markdown report)")
        na = [r for r in results if r.verdict == "not-applicable"]
        if na and not verbose:
            lines.append(f"   ({len(na)} scenarios not applicable to this target; --verbose lists them with reasons)")
    c = report.counts()
    lines.append("")
    lines.append(f"{c['pass']} passed, {c['fail']} failed, {c['deviation']} deviations, {c['error']} errors, {c['not-applicable']} not applicable "
                 f"across {len(report.targets)} target(s) in {report.duration:.1f} s (--jobs {report.jobs})")
    return "\n".join(lines) + "\n"


# -- JSON ----------------------------------------------------------------------------------------------
def result_dict(r: Result, report: RunReport) -> dict[str, Any]:
    s = r.scenario
    return {"target": r.target, "id": s.id, "family": s.family, "summary": s.summary, "refs": list(s.refs),
            "applies_to": s.applies_to, "severity": r.severity, "rated_severity": s.severity, "control": s.control,
            "verdict": r.verdict, "reason": _clean(r.reason, report),
            "problems": [{"text": _clean(p, report), "impact": getattr(p, "impact", "vulnerability"),
                          "keyword": getattr(p, "keyword", "MUST"), "rule": getattr(p, "rule", "")}
                         for p in r.problems],
            "evidence": r.evidence, "probes": r.probes, "duration_ms": round(r.duration * 1000, 1)}


def to_dict(report: RunReport, not_applicable: dict[str, str] | None = None) -> dict[str, Any]:
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
        "results": [result_dict(r, report) for r in report.results],
        "not_applicable_rows": [{"id": k, "reason": v} for k, v in sorted((not_applicable or {}).items())],
    }


def to_json(report: RunReport, not_applicable: dict[str, str] | None = None) -> str:
    return json.dumps(to_dict(report, not_applicable), indent=2, ensure_ascii=False) + "\n"


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
            if r.verdict in ("fail", "deviation"):
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
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"


# -- Markdown checklist --------------------------------------------------------------------------------
def _evidence_md(ev: dict) -> list[str]:
    req, resp = ev["request"], ev["response"]
    out = [f"    - probe: {ev.get('label') or ''}", "      ```http", f"      {req['method']} {req['url']}"]
    out += [f"      {k}: {v}" for k, v in req["headers"].items()]
    if req.get("body"):
        out += ["", f"      {req['body']}"]
    out += ["", f"      HTTP {resp['status'] if resp['status'] is not None else '(no response: ' + str(resp['error']) + ')'}"]
    out += [f"      {k}: {v}" for k, v in resp["headers"].items()]
    if resp.get("body_excerpt"):
        out += ["", "      " + resp["body_excerpt"].replace("\n", "\n      ")]
    out.append("      ```")
    return out


def to_markdown(report: RunReport, not_applicable: dict[str, str] | None = None, title: str = "") -> str:
    """A security review checklist: one box per scenario per target, grouped by family, RFC references,
    evidence for every failure, sign-off lines at the end."""
    c = report.counts()
    started = datetime.datetime.fromtimestamp(report.started, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [f"# {title or 'OAuth 2.0 / JWT security review checklist'}", "",
             f"Generated by `python run.py conformance` (oauthlab) on {started}, {report.duration:.1f} s.",
             "", "| target | base URL | passed | failed | errors | not applicable |", "| --- | --- | --- | --- | --- | --- |"]
    for t in report.targets:
        rs = [r for r in report.results if r.target == t.name]
        if t.status != "ok":
            lines.append(f"| {t.name} | {t.base_url} | – | – | unreachable: {_clean(t.message, report)} | – |")
            continue
        cnt = {v: sum(1 for r in rs if r.verdict == v) for v in VERDICT_MARK}
        lines.append(f"| {t.name} | {t.base_url} | {cnt['pass']} | {cnt['fail']} | {cnt['error']} | "
                     f"{cnt['not-applicable']} |")
    verdict = "**All applicable checks pass.**" if report.exit_code() == 0 else \
        f"**{c['fail']} finding(s) and {c['error']} error(s) need attention.**"
    lines += ["", verdict, "", "Legend: `[x]` passed; `[ ]` failed or could not be checked (error). Checks "
              "that do not apply to a target are listed after its checklist, each with the reason.", ""]
    for t in report.targets:
        rs = [r for r in report.results if r.target == t.name]
        if not rs:
            continue
        lines += [f"## {t.name}", ""]
        groups: dict[str, list[Result]] = OrderedDict()
        for r in rs:
            groups.setdefault(family_title(r), []).append(r)
        skipped: list[Result] = []
        for fam, items in groups.items():
            checked = [r for r in items if r.verdict != "not-applicable"]
            skipped += [r for r in items if r.verdict == "not-applicable"]
            if not checked:
                continue
            lines += [f"### {fam}", ""]
            for r in checked:
                refs = ", ".join(r.scenario.refs)
                box = "x" if r.verdict == "pass" else " "
                tag = {"pass": "", "fail": f" — **FAIL ({r.severity})**",
                       "deviation": f" — **DEVIATION ({r.severity})**",
                       "error": " — **ERROR (not verified)**"}[r.verdict]
                lines.append(f"- [{box}] **{r.id}**{tag}: {r.scenario.summary} _({refs})_")
                if r.verdict in ("fail", "deviation", "error"):
                    for p in (r.problems or [r.reason])[:8]:
                        lines.append(f"    - {_clean(p, report)}")
                    if r.reason and r.problems:
                        lines.append(f"    - {_clean(r.reason, report)}")
                    for ev in r.evidence[:2]:
                        lines += _evidence_md(ev)
            lines.append("")
        if skipped:
            # Reasons are the harness's own words (never target data), so they are not scrubbed: a profile
            # password such as "secret" would otherwise blank that word out of them.
            lines += [f"### Not applicable to {t.name} ({len(skipped)})", ""]
            lines += [f"- `{r.id}`: {r.reason}" for r in skipped]
            lines.append("")
    if not_applicable:
        lines += ["## Catalog rows not run by this harness", ""]
        lines += [f"- `{k}`: {v}" for k, v in sorted(not_applicable.items())]
        lines.append("")
    lines += ["## Sign-off", "", "| role | name | date | signature |", "| --- | --- | --- | --- |",
              "| Reviewer | | | |", "| Service owner | | | |", "",
              "Reviewed findings are fixed, or accepted with a written justification attached to this checklist.", ""]
    return "\n".join(lines)


# -- HTML --------------------------------------------------------------------------------------------------
CSS = """body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:72em;color:#222}
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left}
.pass{color:#176f2c}.fail{color:#b00020;font-weight:bold}.error{color:#a06000;font-weight:bold}
.na{color:#777}pre{background:#f6f6f6;padding:.6em;overflow-x:auto;font-size:12px}
.summary{font-size:1.2em;padding:.6em;border-radius:4px}.ok{background:#e6f4ea}.bad{background:#fdecea}
li{margin:.2em 0}"""


def to_html(report: RunReport, not_applicable: dict[str, str] | None = None, title: str = "") -> str:
    e = html.escape
    c = report.counts()
    title = title or "OAuth 2.0 / JWT security review"
    ok = report.exit_code() == 0
    parts = [f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{e(title)}</title>"
             f"<style>{CSS}</style></head><body><h1>{e(title)}</h1>",
             f"<p class='summary {'ok' if ok else 'bad'}'>{'All applicable checks pass.' if ok else 'Findings need attention.'}"
             f" {c['pass']} passed, {c['fail']} failed, {c['error']} errors, {c['not-applicable']} not applicable; "
             f"{len(report.targets)} target(s), {report.duration:.1f} s.</p>",
             "<table><tr><th>target</th><th>base URL</th><th>passed</th><th>failed</th><th>errors</th><th>n/a</th></tr>"]
    for t in report.targets:
        rs = [r for r in report.results if r.target == t.name]
        cnt = {v: sum(1 for r in rs if r.verdict == v) for v in VERDICT_MARK}
        if t.status != "ok":
            parts.append(f"<tr><td>{e(t.name)}</td><td>{e(t.base_url)}</td><td colspan=4 class=error>unreachable: "
                         f"{e(_clean(t.message, report))}</td></tr>")
        else:
            parts.append(f"<tr><td><a href='#t-{e(t.name)}'>{e(t.name)}</a></td><td>{e(t.base_url)}</td>"
                         f"<td>{cnt['pass']}</td><td>{cnt['fail']}</td><td>{cnt['error']}</td>"
                         f"<td>{cnt['not-applicable']}</td></tr>")
    parts.append("</table>")
    for t in report.targets:
        rs = [r for r in report.results if r.target == t.name]
        if not rs:
            continue
        parts.append(f"<h2 id='t-{e(t.name)}'>{e(t.name)}</h2>")
        groups: dict[str, list[Result]] = OrderedDict()
        for r in rs:
            groups.setdefault(family_title(r), []).append(r)
        for fam, items in groups.items():
            parts.append(f"<h3>{e(fam)}</h3><ul>")
            for r in items:
                refs = e(", ".join(r.scenario.refs))
                if r.verdict == "not-applicable":
                    parts.append(f"<li class=na>&#9744; <s>{e(r.id)}</s> — not applicable: {e(r.reason)}"
                                 f" <small>({refs})</small></li>")
                    continue
                box = "&#9745;" if r.verdict == "pass" else "&#9744;"
                cls = {"pass": "pass", "fail": "fail", "deviation": "error", "error": "error"}[r.verdict]
                parts.append(f"<li><span class={cls}>{box} {e(r.id)} {e(VERDICT_MARK[r.verdict])}</span> "
                             f"[{e(r.severity)}] {e(r.scenario.summary)} <small>({refs})</small>")
                if r.verdict in ("fail", "deviation", "error"):
                    parts.append("<ul>" + "".join(f"<li>{e(_clean(p, report))}</li>"
                                                  for p in (r.problems or [r.reason])[:8]) + "</ul>")
                    for ev in r.evidence[:2]:
                        parts.append("<pre>" + e("\n".join(line[6:] if line.startswith("      ") else line
                                                          for line in _evidence_md(ev)[2:-1])) + "</pre>")
                parts.append("</li>")
            parts.append("</ul>")
    if not_applicable:
        parts.append("<h2>Catalog rows not run by this harness</h2><ul>" + "".join(
            f"<li><code>{e(k)}</code>: {e(v)}</li>" for k, v in sorted(not_applicable.items())) + "</ul>")
    parts.append("<h2>Sign-off</h2><table><tr><th>role</th><th>name</th><th>date</th><th>signature</th></tr>"
                 "<tr><td>Reviewer</td><td></td><td></td><td></td></tr>"
                 "<tr><td>Service owner</td><td></td><td></td><td></td></tr></table></body></html>\n")
    return "\n".join(parts)


FORMATS = {"text": ("txt", None), "json": ("json", to_json), "junit": ("xml", to_junit),
           "markdown": ("md", to_markdown), "html": ("html", to_html)}


def render(fmt: str, report: RunReport, not_applicable: dict[str, str] | None = None, color: bool = False,
           verbose: bool = False) -> str:
    if fmt == "text":
        return text(report, color=color, verbose=verbose)
    if fmt == "junit":
        return to_junit(report)
    return FORMATS[fmt][1](report, not_applicable)  # type: ignore[misc]


def write_reports(report: RunReport, formats: Iterable[str], out_dir: str, not_applicable: dict[str, str] | None,
                  basename: str = "conformance") -> list[str]:
    os.makedirs(out_dir, exist_ok=True)
    written = []
    for fmt in formats:
        ext = FORMATS[fmt][0]
        path = os.path.join(out_dir, f"{basename}.{ext}")
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(render(fmt, report, not_applicable))
        written.append(path)
    return written
