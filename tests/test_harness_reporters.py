"""Reports: JSON with a stable schema (schema_version), JUnit XML that parses (one testcase per scenario per
target), a Markdown checklist a reviewer can sign, single-file HTML; no secret or full token anywhere."""
from __future__ import annotations

import json
import xml.etree.ElementTree as ET

from harness import checks, reporters
from harness.evidence import evidence, scrub, shorten
from harness.runner import Result, RunReport, TargetInfo
from harness.scenario import Observation, Scenario

from .support.scenarios import scenario

TOKEN = "eyJhbGciOiJIUzI1NiJ9." + "eyJzdWIiOiJqb2huZG9lIn0" * 10 + ".c2lnbmF0dXJlc2lnbmF0dXJlc2lnbmF0dXJl"
SECRET = "s3cr3t-value-that-must-never-appear"


def sample_report() -> RunReport:
    obs = Observation(label="alg=none", method="GET", url=f"http://127.0.0.1:1/users/me?access_token={TOKEN}",
                      request_headers={"Authorization": f"Bearer {TOKEN}"}, request_body=f"password={SECRET}",
                      status=200, headers={"Content-Type": "application/json"},
                      body=json.dumps({"token": TOKEN, "echo": SECRET}))
    ev = evidence(obs, [SECRET], ["status 200, expected 401"])
    results = [Result(scenario("sig-alg-none"), "demo", "fail", ["alg=none: status 200, expected 401"], [ev], "", 1, 0.01),
               Result(scenario("sig-valid-hs256-control", True), "demo", "pass", probes=2),
               Result(scenario("aud-mismatch"), "demo", "not-applicable", reason="needs mint"),
               Result(scenario("time-exp-past"), "demo", "error", reason="RuntimeError: boom")]
    return RunReport(results, [TargetInfo("demo", "resource-server", "http://127.0.0.1:1")], 1.7e9, 1.5, 8, [SECRET])


def all_formats(report: RunReport) -> dict[str, str]:
    return {f: reporters.render(f, report, {"sig-jwe-x": "reason"}) for f in reporters.FORMATS}


def test_tokens_are_shortened_like_the_spec_says():
    """Evidence shows tokens as eyJhbGci…x9Q (312 chars)."""
    assert shorten(TOKEN) == f"{TOKEN[:8]}…{TOKEN[-3:]} ({len(TOKEN)} chars)"
    assert TOKEN not in scrub(f"Bearer {TOKEN}")


def test_no_secret_or_full_token_in_any_report():
    """No report carries a full token or a profile secret."""
    for fmt, out in all_formats(sample_report()).items():
        assert TOKEN not in out, fmt
        assert SECRET not in out, fmt
        assert "eyJhbGci" in out or fmt == "text", fmt


def test_json_schema_is_stable():
    """schema_version 2 with the documented top-level and per-result fields."""
    d = json.loads(reporters.to_json(sample_report(), {"sig-jwe-x": "reason"}))
    assert d["schema_version"] == 2
    assert set(d) >= {"tool", "started", "duration_s", "jobs", "exit_code", "summary", "targets", "results",
                      "findings", "baseline", "not_applicable_rows"}
    assert d["summary"] == {"pass": 1, "fail": 1, "deviation": 0, "error": 1, "not-applicable": 1}
    assert d["exit_code"] == 1
    assert d["findings"] == [{"target": "demo", "id": "sig-alg-none", "verdict": "fail", "severity": "critical",
                              "accepted": False}]
    r = d["results"][0]
    assert set(r) == {"target", "id", "family", "summary", "refs", "applies_to", "severity", "rated_severity",
                      "control", "verdict", "reason", "problems", "evidence", "probes", "duration_ms", "advice",
                      "repro", "accepted"}
    assert set(r["evidence"][0]) == {"label", "request", "response", "problems"}
    assert set(r["evidence"][0]["response"]) == {"status", "headers", "body_excerpt", "elapsed_ms", "error"}


def test_junit_parses_with_one_testcase_per_scenario():
    """JUnit XML loads with xml.etree; fail -> <failure>, error -> <error>, n/a -> <skipped>."""
    root = ET.fromstring(reporters.to_junit(sample_report()))
    suite = root.find("testsuite")
    assert suite.get("name") == "demo" and suite.get("tests") == "4"
    cases = suite.findall("testcase")
    assert len(cases) == 4
    kinds = {c.get("name").split()[0]: [e.tag for e in c if e.tag != "properties"] for c in cases}
    assert kinds == {"sig-alg-none": ["failure"], "sig-valid-hs256-control": [], "aud-mismatch": ["skipped"],
                     "time-exp-past": ["error"]}


def test_markdown_checklist_boxes_refs_evidence_and_signoff():
    """- [x] for passes, - [ ] for failures with RFC refs and evidence, grouped by family, sign-off at the end."""
    md = reporters.to_markdown(sample_report(), {"sig-jwe-x": "reason"})
    assert "- [x] **sig-valid-hs256-control**" in md
    assert "- [ ] **sig-alg-none** — **FAIL (critical)**" in md and "_(RFC 9068 §4)_" in md
    assert "### 1. Signature and algorithm" in md and "### 3. Claims and time" in md
    assert "HTTP 200" in md and "```http" in md
    assert md.index("## Sign-off") > md.index("sig-alg-none") and "| Reviewer |" in md


def test_html_is_one_file_with_summary_first():
    html = reporters.to_html(sample_report(), {})
    assert html.startswith("<!doctype html>") and "<script" not in html and "<link" not in html
    assert html.index("Findings need attention") < html.index("sig-alg-none")


def graded_report() -> RunReport:
    """Findings of every weight, out of order: a low vulnerability, a SHOULD deviation, a critical one, a
    MUST deviation, a high one; plus a pass and an error."""
    from harness.scenario import deviation, vulnerability

    def sc(id: str, severity: str) -> Scenario:
        return Scenario(id=id, summary=f"summary of {id}", refs=("RFC 6750 §3.1",), applies_to="resource-server",
                        severity=severity, mutate=lambda kit: [], expect=checks.invalid_token, family=id.split("-")[0])
    rule = "RFC 6750 §3.1: the resource server SHOULD respond with the HTTP 401 status code"
    results = [Result(sc("bearer-low", "low"), "demo", "fail", [vulnerability("served", rule="RFC 6750 §2.2: x")]),
               Result(sc("bearer-should", "medium"), "demo", "deviation", [deviation("400 not 401", "SHOULD", rule)]),
               Result(sc("sig-crit", "critical"), "demo", "fail", [vulnerability("accepted")]),
               Result(sc("bearer-must", "high"), "demo", "deviation", [deviation("no challenge", "MUST", rule)]),
               Result(sc("aud-high", "high"), "demo", "fail", [vulnerability("accepted")]),
               Result(sc("sig-ok", "critical"), "demo", "pass"),
               Result(sc("time-err", "high"), "demo", "error", reason="RuntimeError: boom")]
    return RunReport(results, [TargetInfo("demo", "resource-server", "http://127.0.0.1:1")], 1.7e9, 1.0, 1)


ADVICE = {"sig-crit": {"impact": "anyone can mint tokens", "remediation": "pin algorithms",
                       "hints": ['PyJWT: algorithms=["RS256"]']},
          "bearer-must": {"impact": "tokens leak", "remediation": "refuse them",
                          "deviation": {"impact": "refused with the wrong answer", "remediation": "answer 401"}}}


def test_findings_are_sorted_by_severity_vulnerabilities_before_deviations():
    """critical, high, low (the vulnerability before the MUST deviation), then the SHOULD deviation (info)."""
    from harness.report.findings import collect
    order = [f.result.id for f in collect(graded_report())]
    assert order == ["sig-crit", "aud-high", "bearer-low", "bearer-must", "bearer-should"]


def test_every_human_format_opens_with_the_findings_in_that_order():
    """Text, Markdown and HTML list the findings (with the advice given) before the checklist of passes."""
    report = graded_report()
    for fmt, checklist in (("text", "== Checklist"), ("markdown", "## Checklist"), ("html", "<h2>Checklist</h2>")):
        out = reporters.render(fmt, report, advice=ADVICE)
        positions = [out.index(i) for i in ("sig-crit", "aud-high", "bearer-low", "bearer-must", "bearer-should")]
        assert positions == sorted(positions) and positions[-1] < out.index(checklist), fmt
        assert out.index("anyone can mint tokens") < out.index(checklist), fmt
        assert 'PyJWT: algorithms=[' in out.replace("&quot;", '"'), fmt
        assert "RFC 6750 §3.1: the resource server SHOULD respond" in out, fmt
        assert out.index("time-err") > positions[-1], fmt  # errors are listed apart, after the findings


def test_text_headline_counts_open_findings_by_severity():
    """The first line says how many findings of which weight need attention."""
    out = reporters.render("text", graded_report())
    assert "== Findings: 5 open finding(s): 1 critical, 1 high, 2 low, 1 info." in out


def test_media_type_headers_are_shown_whole():
    """Content-Type and Accept carry no credential: the evidence (and its curl command) keeps them intact."""
    from harness import repro
    obs = Observation(label="token", method="POST", url="http://127.0.0.1:1/token",
                      request_headers={"Content-Type": "application/x-www-form-urlencoded",
                                       "Authorization": f"Bearer {TOKEN}"},
                      request_body=f"grant_type=authorization_code&code={'c' * 43}", status=400,
                      headers={"Content-Type": "application/json"}, body="{}")
    ev = evidence(obs)
    assert ev["request"]["headers"]["Content-Type"] == "application/x-www-form-urlencoded"
    command = repro.curl(ev)
    assert "-H 'Content-Type: application/x-www-form-urlencoded'" in command and TOKEN not in command
    assert f"Bearer {TOKEN}" in repro.curl(ev, reveal=True) and "c" * 43 in repro.curl(ev, reveal=True)


def test_a_deviation_carries_the_advice_about_the_answer_not_the_attack():
    """A refused attack is not described as if it had got through: a deviation's impact and fix are its own."""
    from harness.report.findings import collect
    by_id = {f.result.id: f for f in collect(graded_report(), ADVICE)}
    assert by_id["bearer-must"].advice == {"impact": "refused with the wrong answer", "remediation": "answer 401"}
    assert by_id["sig-crit"].advice["impact"] == "anyone can mint tokens"
