"""The pytest plugin: ``pytest --oauthlab-target profile.toml`` turns each applicable scenario into a test
item (id = scenario id), a finding into a failure carrying its evidence, not-applicable into a skip."""
from __future__ import annotations

import re

import pytest
import tomllib

from cli.conformance import TEMPLATES, _replace_urls

from .conftest import ROOT, live_server
from .review_support import RSFlaws, flawed_rs, toml_profile

pytest_plugins = ("pytester",)


def run_plugin(pytester: pytest.Pytester, monkeypatch, *args: str):
    # The plugin from this checkout, and only it (no other installed plugin, no entry point needed).
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    return pytester.runpytest_subprocess("-p", "harness.pytest_plugin", "-p", "no:cacheprovider", "-rA", *args,
                                         timeout=180)


def test_entry_point_is_declared():
    """pytest finds the plugin through the ``pytest11`` entry point of the installed package."""
    with open(ROOT / "pyproject.toml", "rb") as fh:
        assert tomllib.load(fh)["project"]["entry-points"]["pytest11"] == {"oauthlab": "harness.pytest_plugin"}


def test_flawed_server_fails_exactly_its_items_with_the_finding(pytester, monkeypatch, tmp_path):
    """alg none accepted: the two alg-none items fail with impact, fix and the probe; the rest pass or skip."""
    with flawed_rs(tmp_path, RSFlaws(alg_none=True)) as (base, profile):
        result = run_plugin(pytester, monkeypatch, "--oauthlab-target", str(profile), "--oauthlab-only", "sig")
    result.assert_outcomes(failed=2, passed=17, skipped=7)
    out = result.stdout.str()
    # node ids print relative to the invocation directory: match the id's own part
    assert re.search(r"FAILED \S*oauthlab/vulnerable-rs::sig-alg-none - ", out)
    assert re.search(r"FAILED \S*oauthlab/vulnerable-rs::sig-alg-none-keep-sig - ", out)
    assert "impact: Anyone can mint any token" in out and "status 200: the request was accepted" in out
    assert f"GET {base}/users/me -> 200" in out
    assert "SKIPPED [6]" in out and "the target's public keys are unknown" in out
    assert result.ret == 1


def test_baselined_finding_is_an_expected_failure(pytester, monkeypatch, tmp_path):
    """A finding accepted by --oauthlab-baseline is xfail with its reason, so the suite passes."""
    accepted = tmp_path / "baseline.toml"
    accepted.write_text('[[accepted]]\ntarget = "vulnerable-rs"\nid = "sig-alg-none"\nreason = "SEC-1"\n'
                        '[[accepted]]\ntarget = "vulnerable-rs"\nid = "sig-alg-none-keep-sig"\nreason = "SEC-1"\n')
    with flawed_rs(tmp_path, RSFlaws(alg_none=True)) as (_, profile):
        result = run_plugin(pytester, monkeypatch, "--oauthlab-target", str(profile), "--oauthlab-only", "sig-alg-none*",
                            "--oauthlab-only", "sig-valid-hs256-control", "--oauthlab-baseline", str(accepted))
    result.assert_outcomes(passed=2, xfailed=2)
    assert "accepted by the baseline: SEC-1" in result.stdout.str()
    assert result.ret == 0


def test_our_backend2_passes_every_item(pytester, monkeypatch, tmp_path):
    """Our HS256 server: every applicable signature and audience item passes."""
    with live_server("backend2", tmp_path / "b2") as base:
        data = _replace_urls(tomllib.loads((TEMPLATES / "backend2.toml").read_text()),
                             {"http://127.0.0.1:9000": base})
        data["resource"]["secret_file"] = str(tmp_path / "b2" / "keys" / "secrets.json")
        profile = tmp_path / "backend2.toml"
        profile.write_text(toml_profile(data))
        result = run_plugin(pytester, monkeypatch, "--oauthlab-target", str(profile), "--oauthlab-only", "sig",
                            "--oauthlab-only", "aud")
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed", 0) == 0 and outcomes.get("error", 0) == 0, result.stdout.str()[-3000:]
    assert outcomes["passed"] >= 20
    assert re.search(r"PASSED \S*oauthlab/backend2::sig-alg-none\n", result.stdout.str())
    assert result.ret == 0


def test_bad_profile_is_a_usage_error(pytester, monkeypatch, tmp_path):
    """A profile that does not load stops pytest with one line naming the field (exit 4, usage error)."""
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "x"\nkind = "resource-server"\n')
    result = run_plugin(pytester, monkeypatch, "--oauthlab-target", str(bad))
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert result.stderr.str().startswith(f"ERROR: oauthlab: {bad}: base_url: missing (required)")


def test_without_a_target_the_plugin_adds_nothing(pytester, monkeypatch):
    """The plugin is inert in a suite that does not ask for a review."""
    pytester.makepyfile("def test_one():\n    assert True\n")
    result = run_plugin(pytester, monkeypatch)
    result.assert_outcomes(passed=1)
    assert "oauthlab" not in result.stdout.str()


def test_unreachable_target_fails_its_items_with_the_reason(pytester, monkeypatch, tmp_path):
    """Nothing verified is never a pass: with the target down, every item fails saying it is unreachable."""
    with flawed_rs(tmp_path, RSFlaws()) as (_, profile):
        pass  # the server is stopped again: the profile now points at a closed port
    result = run_plugin(pytester, monkeypatch, "--oauthlab-target", str(profile), "--oauthlab-only", "aud")
    result.assert_outcomes(failed=5)
    assert "vulnerable-rs: unreachable: " in result.stdout.str()
