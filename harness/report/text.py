"""The terminal report: the findings first (impact, fix, RFC sentence, evidence, curl), then errors and
baseline notes, then the table of every scenario per target."""
from __future__ import annotations

from collections import OrderedDict

from ..runner import Result, RunReport
from .findings import (
    VERDICT_MARK,
    Finding,
    clean,
    collect,
    errors,
    headline,
    signed_off_by,
    stale_notes,
)

COLORS = {"pass": "32", "fail": "31", "deviation": "35", "error": "33", "not-applicable": "90"}


def _indent(text: str, pad: str) -> list[str]:
    return [pad + line for line in text.splitlines()]


def finding_lines(f: Finding) -> list[str]:
    r = f.result
    tag = f"{r.severity.upper()} {f.kind}" + (" (accepted)" if f.accepted is not None else "")
    out = [f"[{f.number}] {tag}: {f.title}", f"    {r.scenario.summary} ({', '.join(r.scenario.refs)})"]
    if f.accepted is not None:
        out.append(f"    {signed_off_by(f.accepted)}")
    if f.advice.get("impact"):
        out.append(f"    impact: {f.advice['impact']}")
    if f.advice.get("remediation"):
        out.append(f"    fix:    {f.advice['remediation']}")
        out += [f"            - {h}" for h in f.advice.get("hints", [])]
    out += [f"    rule:   {rule}" for rule in f.rules]
    out += [f"    found:  {p[:300]}" for p in f.problems]
    for ev in r.evidence[:len(f.repros)]:
        resp = ev["response"]
        status = resp["status"] if resp["status"] is not None else f"no response ({resp['error']})"
        challenge = resp["headers"].get("WWW-Authenticate") or resp["headers"].get("www-authenticate")
        out.append(f"    probe:  {ev.get('label') or ''}: {ev['request']['method']} {ev['request']['url']} -> "
                   f"{status}" + (f", WWW-Authenticate: {challenge}" if challenge else ""))
        if resp.get("body_excerpt"):
            out.append(f"    body:   {' '.join(resp['body_excerpt'].split())[:200]}")
    for command in f.repros:
        out.append("    repro:")
        out += _indent(command, "      ")
    return out


def text(report: RunReport, color: bool = False, verbose: bool = False, advice: dict | None = None,
         reveal: bool = False) -> str:
    def paint(verdict: str, s: str) -> str:
        return f"\x1b[{COLORS[verdict]}m{s}\x1b[0m" if color else s

    lines = [f"{t.name}: UNREACHABLE: {t.message}" for t in report.targets if t.status != "ok"]
    findings = collect(report, advice, reveal)
    lines += ["", f"== Findings: {headline(findings)}"]
    for f in findings:
        lines += [""] + finding_lines(f)
    errs = errors(report)
    if errs:
        lines += ["", f"== Not verified ({len(errs)} errors: nothing was proven either way)"]
        lines += [f"   {r.target}: {r.id}: {clean(r.reason or (r.problems or [''])[0], report)[:300]}" for r in errs]
    notes = stale_notes(report)
    if notes:
        lines += ["", "== Baseline entries that no longer apply"] + [f"   {n}" for n in notes]
    lines += ["", "== Checklist"]
    width = max([len(r.id) for r in report.results] + [8])
    by_target: dict[str, list[Result]] = OrderedDict()
    for r in report.results:
        by_target.setdefault(r.target, []).append(r)
    numbers = {(f.result.target, f.result.id): f.number for f in findings}
    for target, results in by_target.items():
        info = next((t for t in report.targets if t.name == target), None)
        lines += ["", f"== {target} ({info.base_url if info else ''})"]
        lines += [f"   note: {clean(n, report)}" for n in (info.notes if info else [])]
        lines.append(f"   {'scenario':<{width}}  {'verdict':<7}  {'severity':<8}  refs")
        for r in results:
            if r.verdict == "not-applicable" and not verbose:
                continue
            mark = paint(r.verdict, f"{VERDICT_MARK[r.verdict]:<7}")
            ref = f"  (finding {numbers[(target, r.id)]})" if (target, r.id) in numbers else ""
            lines.append(f"   {r.id:<{width}}  {mark}  {r.severity:<8}  {', '.join(r.scenario.refs[:3])}{ref}")
            if verbose and r.verdict == "not-applicable":
                lines.append(f"   {'':<{width}}    - {r.reason}")
        na = [r for r in results if r.verdict == "not-applicable"]
        if na and not verbose:
            lines.append(f"   ({len(na)} scenarios not applicable to this target; --verbose lists them with reasons)")
    c = report.counts()
    lines += ["", f"{c['pass']} passed, {c['fail']} failed, {c['deviation']} deviations, {c['error']} errors, "
                  f"{c['not-applicable']} not applicable across {len(report.targets)} target(s) in "
                  f"{report.duration:.1f} s (--jobs {report.jobs})"]
    return "\n".join(lines) + "\n"
