"""Baselines: a team accepts a reviewed finding with a reason (and an optional expiry) so that CI gates on
everything else; entries that expired or whose finding is gone are reported, never silently kept."""
from __future__ import annotations

import datetime
import json
import subprocess
import sys

import pytest

from harness import baseline
from harness.runner import Result, RunReport, TargetInfo

from .conftest import ROOT
from .review_support import RSFlaws, flawed_rs
from .support.scenarios import scenario


def conformance(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "run.py", "conformance", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)


ONLY = ("--only", "sig-alg-none", "--only", "sig-valid-hs256-control", "--only", "sig-payload-tamper")


def test_baseline_round_trip_accepts_then_reports_the_stale_entry(tmp_path):
    """Written from a run with a finding, the baseline makes the next run exit 0 with the finding accepted;
    once the flaw is fixed the entry is reported stale."""
    written = tmp_path / "baseline.toml"
    with flawed_rs(tmp_path, RSFlaws(alg_none=True)) as (_, profile):
        first = conformance("--target", str(profile), *ONLY, "--write-baseline", str(written))
        assert first.returncode == 1, first.stderr
        assert f"wrote {written} (1 accepted finding(s)" in first.stderr
        entries = baseline.load(written)
        assert [(e.target, e.id, e.reason) for e in entries] == [("vulnerable-rs", "sig-alg-none", "TODO: why accepted")]
        second = conformance("--target", str(profile), *ONLY, "--baseline", str(written))
        assert second.returncode == 0, second.stdout
        assert "0 open finding(s); 1 accepted by the baseline." in second.stdout
        assert "[1] CRITICAL vulnerability (accepted): vulnerable-rs: sig-alg-none" in second.stdout
        assert "accepted: TODO: why accepted" in second.stdout
    with flawed_rs(tmp_path, RSFlaws()) as (_, profile):
        fixed = conformance("--target", str(profile), *ONLY, "--baseline", str(written), "--format", "json")
    assert fixed.returncode == 0, fixed.stdout
    notes = json.loads(fixed.stdout)["baseline"]["notes"]
    assert notes == ["vulnerable-rs: sig-alg-none: stale: the scenario passes now; remove the entry"]


def test_expired_entry_fails_the_run_again(tmp_path):
    """From its expiry date on, an accepted finding counts again, and the report says the entry expired."""
    path = tmp_path / "baseline.json"
    path.write_text(json.dumps({"accepted": [{"target": "vulnerable-rs", "id": "sig-alg-none",
                                              "reason": "legacy client", "expires": "2020-01-01"}]}))
    with flawed_rs(tmp_path, RSFlaws(alg_none=True)) as (_, profile):
        proc = conformance("--target", str(profile), *ONLY, "--baseline", str(path))
    assert proc.returncode == 1
    assert "vulnerable-rs: sig-alg-none: expired on 2020-01-01: the finding counts again" in proc.stdout


@pytest.mark.parametrize("content, message", [
    ("[[accepted]]\ntarget = \"a\"\nid = \"sig-alg-none\"\n", "accepted entry 1: reason is missing or empty"),
    ("[[accepted]]\ntarget = \"a\"\nid = \"x\"\nreason = \"r\"\nexpires = \"soon\"\n",
     "accepted entry 1: expires must be a date (YYYY-MM-DD), got 'soon'"),
    ("[[accepted]]\ntarget = \"a\"\nid = \"x\"\nreason = \"r\"\nowner = \"me\"\n", "unknown field 'owner'"),
    ("not toml [", "not valid TOML"),
])
def test_bad_baseline_is_one_line_and_exit_2(tmp_path, content, message):
    """A broken baseline stops the run before anything starts: one line naming the entry, exit 2."""
    path = tmp_path / "b.toml"
    path.write_text(content)
    proc = conformance("--target", str(tmp_path / "unused.toml"), "--baseline", str(path))
    assert proc.returncode == 2
    assert message in proc.stderr and proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr


def _report(*results: Result) -> RunReport:
    return RunReport(list(results), [TargetInfo("demo", "resource-server", "http://127.0.0.1:1")], 0, 0, 1)


def test_entries_for_scenarios_not_run_are_left_alone():
    """An entry for a scenario or target this run did not check is neither accepted nor stale."""
    entries = [baseline.Entry("demo", "aud-mismatch", "r"), baseline.Entry("other", "sig-alg-none", "r")]
    outcome = baseline.review(entries, [Result(scenario("sig-alg-none"), "demo", "fail", ["x"])])
    assert outcome.accepted == {} and outcome.stale == [] and outcome.expired == []


def test_written_baseline_keeps_accepted_reasons_and_loads_back(tmp_path):
    """--write-baseline on a run that already had a baseline keeps the reasons and expiry dates given."""
    report = _report(Result(scenario("sig-alg-none"), "demo", "fail", ["x"]),
                     Result(scenario("aud-mismatch"), "demo", "fail", ["y"]))
    kept = baseline.Entry("demo", "sig-alg-none", "gateway strips it", datetime.date(2099, 1, 31))
    reviewed = baseline.apply(report, [kept])
    assert reviewed.exit_code() == 1  # aud-mismatch is not accepted
    for name in ("b.toml", "b.json"):
        baseline.write(tmp_path / name, reviewed)
        assert baseline.load(tmp_path / name) == [kept, baseline.Entry("demo", "aud-mismatch", "TODO: why accepted")]
