"""``run.py bench peers``: how a row's result is computed, and that the paired run works end to end.

The numbers themselves are never asserted (they depend on the machine); what is checked is the method:
the result is the median of per-round ratios, the spread is their min-max, a failed request fails the row,
and a real run pins the servers, starts the node peers and reports every row it was asked for.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from bench.bench_peers import ROWS, Sample, measure_pair, merged, slices, summarise
from tests.conftest import ROOT

ROW = next(r for r in ROWS if r.id == "proxy-oidc")


def samples(ours: list[float], theirs: list[float], errors: int = 0) -> dict[str, list[tuple[Sample, Sample]]]:
    return {ROW.id: [(Sample(a, 1e6 / a, errors), Sample(b, 1e6 / b, 0)) for a, b in zip(ours, theirs)]}


def test_row_result_is_the_median_of_per_round_ratios_with_their_spread():
    """Paired rounds: each round's ratio is ours : peer of that round; the result is their median, the
    spread their min and max (a single bad round moves neither the median nor the verdict)."""
    [row] = summarise([ROW], samples([100, 260, 150, 140, 90], [100, 100, 100, 100, 300]))
    assert row["ratios"] == [1.0, 2.6, 1.5, 1.4, 0.3]
    assert (row["median"], row["min"], row["max"]) == (1.4, 0.3, 2.6)
    assert row["met"] is True and row["goal"] == 1.3
    assert row["cpu_median"] == pytest.approx(1.4)
    assert row["ours"]["median_rate"] == 140 and row["peer"]["median_rate"] == 100


def test_a_failed_request_fails_the_row_whatever_the_ratio():
    """A rate measured on failing requests measures nothing: any non-2xx or socket error fails the row."""
    [row] = summarise([ROW], samples([500, 500, 500], [100, 100, 100], errors=1))
    assert row["median"] == 5.0 and row["errors"] == 3 and row["met"] is False


def test_a_pair_is_measured_in_one_second_slices_taking_turns():
    """wrk counts whole seconds: 5 s are five 1 s slices (a fraction is rounded), each target gets its full time, and who goes
    first alternates slice by slice (A-B, B-A, A-B, ...)."""
    assert slices(5) == [1, 1, 1, 1, 1] and slices(3.4) == [1, 1, 1] and slices(1) == [1]
    calls = []

    def target(name):
        def run(seconds):
            calls.append((name, seconds))
            return Sample(100.0, 10.0, 0)
        return run

    measure_pair(target("ours"), target("peer"), 3, ours_first=True)
    assert calls == [("ours", 1), ("peer", 1), ("peer", 1), ("ours", 1), ("ours", 1), ("peer", 1)]
    calls.clear()
    measure_pair(target("ours"), target("peer"), 2, ours_first=False)
    assert calls == [("peer", 1), ("ours", 1), ("ours", 1), ("peer", 1)]


def test_merged_slices_count_requests_over_time_and_cpu_over_requests():
    """3 s at 100/s and 2 s at 400/s are 1,100 requests in 5 s; CPU time per request is weighted by
    requests, and failed requests add up."""
    s = merged([(3, Sample(100.0, 10.0, 1)), (2, Sample(400.0, 5.0, 2))])
    assert s.rate == pytest.approx(220.0)
    assert s.cpu_us == pytest.approx((300 * 10 + 800 * 5) / 1100)
    assert s.errors == 3


def missing_tools() -> list[str]:
    missing = [t for t in ("wrk", "taskset", "node", "npm") if shutil.which(t) is None]
    if len(os.sched_getaffinity(0)) < 2:
        missing.append("a second CPU")
    return missing


@pytest.mark.slow
def test_bench_peers_runs_pinned_rounds_against_the_node_peers_and_reports_every_row(tmp_path):
    """One round of one second against node oidc-provider, the jose resource server and the bare signing
    loop: exit 0 or 1 (goals met or not, never a crash), JSON with one ratio per row and no failed request.
    The tools are installed by .ci/install-perf.sh; under CI a missing one fails this test."""
    missing = missing_tools()
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"bench peers needs {', '.join(missing)} (.ci/install-perf.sh installs them)")
        pytest.skip(f"needs {', '.join(missing)}")
    rows = "backend4-jose,backend4-health,backend4-health-token,proxy-oidc,proxy-rsa"
    done = subprocess.run([sys.executable, str(ROOT / "run.py"), "bench", "peers", "--rounds", "1",
                           "--duration", "1", "--rows", rows, "--format", "json"],
                          capture_output=True, text=True, check=False, cwd=ROOT, timeout=170)
    assert done.returncode in (0, 1), done.stderr[-2000:]
    report = json.loads(done.stdout)
    assert [r["id"] for r in report["rows"]] == rows.split(",")
    assert (report["server_cpu"], report["load_cpu"], report["rounds"]) == (0, 1, 1)
    for r in report["rows"]:
        assert len(r["ratios"]) == 1 and r["errors"] == 0, r
        assert r["ours"]["median_rate"] > 0 and r["peer"]["median_rate"] > 0
    assert "round 1/1 done" in done.stderr


def test_bench_peers_refuses_an_unknown_row_with_exit_2():
    """A usage error is exit 2 with the valid choices named."""
    done = subprocess.run([sys.executable, str(ROOT / "run.py"), "bench", "peers", "--rows", "nope"],
                          capture_output=True, text=True, check=False, cwd=ROOT, timeout=60)
    assert done.returncode == 2 and "proxy-oidc" in done.stderr
