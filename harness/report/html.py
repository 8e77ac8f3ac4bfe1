"""The single-file HTML review (no script, no external resource): summary, findings first with impact,
fix, RFC sentence, evidence and a ``curl`` that replays the probe, then the checklist and the sign-off."""
from __future__ import annotations

import html
from collections import OrderedDict

from ..runner import Result, RunReport
from .findings import (
    VERDICT_MARK,
    Finding,
    by_target,
    clean,
    collect,
    errors,
    family_title,
    headline,
    signed_off_by,
    stale_notes,
)
from .markdown import evidence_md

CSS = """body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:72em;color:#222}
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left}
.pass{color:#176f2c}.fail{color:#b00020;font-weight:bold}.error{color:#a06000;font-weight:bold}
.na{color:#777}pre{background:#f6f6f6;padding:.6em;overflow-x:auto;font-size:12px}
.summary{font-size:1.2em;padding:.6em;border-radius:4px}.ok{background:#e6f4ea}.bad{background:#fdecea}
.finding{border-left:4px solid #b00020;padding:.2em 1em;margin:1em 0}.finding.accepted{border-color:#777}
li{margin:.2em 0}"""
e = html.escape


def _evidence_pre(ev: dict) -> str:
    return "<pre>" + e("\n".join(line.removeprefix("      ")
                                for line in evidence_md(ev)[2:-1])) + "</pre>"


def finding_html(f: Finding) -> str:
    r = f.result
    cls = "finding accepted" if f.accepted is not None else "finding"
    parts = [f"<section class='{cls}' id='{f.anchor}'><h3>{f.number}. {e(r.severity.upper())} {e(f.kind)}"
             f"{' (accepted)' if f.accepted is not None else ''}: <code>{e(r.id)}</code> on {e(r.target)}</h3>",
             f"<p>{e(r.scenario.summary)} <small>({e(', '.join(r.scenario.refs))})</small></p><dl>"]
    if f.accepted is not None:
        parts.append(f"<dt>Baseline</dt><dd>{e(signed_off_by(f.accepted))}</dd>")
    if f.advice.get("impact"):
        parts.append(f"<dt>Impact</dt><dd>{e(f.advice['impact'])}</dd>")
    if f.advice.get("remediation"):
        hints = "".join(f"<li>{e(h)}</li>" for h in f.advice.get("hints", []))
        parts.append(f"<dt>Fix</dt><dd>{e(f.advice['remediation'])}{'<ul>' + hints + '</ul>' if hints else ''}</dd>")
    parts += [f"<dt>Rule</dt><dd>{e(rule)}</dd>" for rule in f.rules]
    parts.append("<dt>Found</dt><dd><ul>" + "".join(f"<li>{e(p)}</li>" for p in f.problems) + "</ul></dd>")
    if r.evidence:
        parts.append("<dt>Evidence</dt><dd>" + "".join(_evidence_pre(ev) for ev in r.evidence[:2]) + "</dd>")
    parts += [f"<dt>Reproduce</dt><dd><pre>{e(command)}</pre></dd>" for command in f.repros]
    return "\n".join(parts) + "</dl></section>"


def to_html(report: RunReport, not_applicable: dict[str, str] | None = None, title: str = "",
            advice: dict | None = None, reveal: bool = False) -> str:
    c = report.counts()
    title = title or "OAuth 2.0 / JWT security review"
    ok = report.exit_code() == 0
    findings = collect(report, advice, reveal)
    parts = [f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{e(title)}</title>"
             f"<style>{CSS}</style></head><body><h1>{e(title)}</h1>",
             f"<p class='summary {'ok' if ok else 'bad'}'>{'All applicable checks pass.' if ok else 'Findings need attention.'}"
             f" {c['pass']} passed, {c['fail']} failed, {c['deviation']} deviations, {c['error']} errors, "
             f"{c['not-applicable']} not applicable; {len(report.targets)} target(s), {report.duration:.1f} s.</p>",
             "<table><tr><th>target</th><th>base URL</th><th>passed</th><th>failed</th><th>deviations</th>"
             "<th>errors</th><th>n/a</th></tr>"]
    for t in report.targets:
        rs = [r for r in report.results if r.target == t.name]
        cnt = {v: sum(1 for r in rs if r.verdict == v) for v in VERDICT_MARK}
        if t.status != "ok":
            parts.append(f"<tr><td>{e(t.name)}</td><td>{e(t.base_url)}</td><td colspan=5 class=error>unreachable: "
                         f"{e(clean(t.message, report))}</td></tr>")
        else:
            parts.append(f"<tr><td><a href='#t-{e(t.name)}'>{e(t.name)}</a></td><td>{e(t.base_url)}</td>"
                         f"<td>{cnt['pass']}</td><td>{cnt['fail']}</td><td>{cnt['deviation']}</td>"
                         f"<td>{cnt['error']}</td><td>{cnt['not-applicable']}</td></tr>")
    parts += ["</table>", f"<h2>Findings</h2><p>{e(headline(findings))}</p>"] + [finding_html(f) for f in findings]
    errs = errors(report)
    if errs:
        parts.append("<h2>Not verified (errors)</h2><ul>" + "".join(
            f"<li><code>{e(r.id)}</code> on {e(r.target)}: {e(clean(r.reason or (r.problems or [''])[0], report))}</li>"
            for r in errs) + "</ul>")
    notes = stale_notes(report)
    if notes:
        parts.append("<h2>Baseline entries that no longer apply</h2><ul>" + "".join(f"<li>{e(n)}</li>" for n in notes)
                     + "</ul>")
    parts.append("<h2>Checklist</h2>")
    numbers = {(f.result.target, f.result.id): f for f in findings}
    for name, rs in by_target(report):
        parts += _checklist(name, rs, numbers)
    if not_applicable:
        parts.append("<h2>Catalog rows not run by this harness</h2><ul>" + "".join(
            f"<li><code>{e(k)}</code>: {e(v)}</li>" for k, v in sorted(not_applicable.items())) + "</ul>")
    parts.append("<h2>Sign-off</h2><table><tr><th>role</th><th>name</th><th>date</th><th>signature</th></tr>"
                 "<tr><td>Reviewer</td><td></td><td></td><td></td></tr>"
                 "<tr><td>Service owner</td><td></td><td></td><td></td></tr></table></body></html>\n")
    return "\n".join(parts)


def _checklist(target: str, rs: list[Result], numbers: dict) -> list[str]:
    parts = [f"<h3 id='t-{e(target)}'>{e(target)}</h3>"]
    groups: dict[str, list[Result]] = OrderedDict()
    for r in rs:
        groups.setdefault(family_title(r), []).append(r)
    for fam, items in groups.items():
        parts.append(f"<h4>{e(fam)}</h4><ul>")
        for r in items:
            refs = e(", ".join(r.scenario.refs))
            if r.verdict == "not-applicable":
                parts.append(f"<li class=na>&#9744; <s>{e(r.id)}</s> — not applicable: {e(r.reason)}"
                             f" <small>({refs})</small></li>")
                continue
            box = "&#9745;" if r.verdict == "pass" else "&#9744;"
            cls = {"pass": "pass", "fail": "fail", "deviation": "error", "error": "error"}[r.verdict]
            f = numbers.get((target, r.id))
            see = f" — <a href='#{f.anchor}'>finding {f.number}</a>" if f else ""
            parts.append(f"<li><span class={cls}>{box} {e(r.id)} {e(VERDICT_MARK[r.verdict])}</span> "
                         f"[{e(r.severity)}] {e(r.scenario.summary)} <small>({refs})</small>{see}</li>")
        parts.append("</ul>")
    return parts
