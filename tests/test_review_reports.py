"""A review a security reviewer can act on: against a deliberately flawed resource server (alg none
accepted), every report format opens with the findings, each finding carries its impact, its remediation
and a curl command, and that command, run by hand, shows the flaw."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys

import pytest

from .conftest import ROOT
from .review_support import Flaws, RSFlaws, flawed_as, flawed_rs

FLAWED = {"sig-alg-none", "sig-alg-none-keep-sig"}


def conformance(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "run.py", "conformance", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout)


@pytest.fixture(scope="module")
def alg_none_run(tmp_path_factory):
    """One CLI run of the signature family against the alg-none server, every format written."""
    tmp = tmp_path_factory.mktemp("alg-none")
    with flawed_rs(tmp, RSFlaws(alg_none=True)) as (base, profile):
        formats = [a for f in ("markdown", "html", "sarif", "json") for a in ("--format", f)]
        proc = conformance("--target", str(profile), "--only", "sig", *formats, "--output", str(tmp / "out"))
        yield base, proc, {p.suffix[1:]: p.read_text() for p in (tmp / "out").iterdir()}


def test_text_report_opens_with_the_findings_then_the_checklist(alg_none_run):
    """Findings first, sorted by severity, each with impact, fix, the probe and a curl command; exit 1."""
    _, proc, _ = alg_none_run
    out = proc.stdout
    assert proc.returncode == 1, proc.stderr
    assert out.lstrip().startswith("== Findings: 2 open finding(s): 2 critical.")
    assert out.index("[1] CRITICAL vulnerability: vulnerable-rs: sig-alg-none") < out.index("== Checklist")
    blocks = out.split("== Checklist")[0].split("\n[")[1:]
    assert len(blocks) == 2
    for block in blocks:
        assert "impact: " in block and "fix:    " in block and "PyJWT: jwt.decode(token, key, algorithms=[" in block
        assert "repro:" in block and "curl -sS -i" in block and "status 200: the request was accepted" in block
    assert re.search(r"sig-valid-hs256-control\s+PASS", out)


def test_markdown_and_html_open_with_the_findings(alg_none_run):
    """Markdown and HTML: the findings section (impact, fix, evidence, reproduce) precedes the checklist."""
    _, _, files = alg_none_run
    md, page = files["md"], files["html"]
    assert md.index("## Findings") < md.index("## Checklist") < md.index("## Sign-off")
    findings = md[md.index("## Findings"):md.index("## Checklist")]
    assert findings.count("- **Impact:**") == 2 and findings.count("- **Fix:**") == 2
    assert findings.count("- **Reproduce:**") == 2 and "```sh" in findings and "HTTP 200" in findings
    assert "- [ ] **sig-alg-none** — **FAIL (critical)**" in md and "[finding 1](#f1)" in md
    assert page.index("<h2>Findings</h2>") < page.index("<h2>Checklist</h2>")
    assert page.count("<dt>Impact</dt>") == 2 and page.count("<dt>Reproduce</dt>") == 2


def test_machine_formats_carry_the_findings_and_no_full_token(alg_none_run):
    """JSON results of findings carry advice and repro; SARIF has one result per finding; tokens shortened."""
    _, _, files = alg_none_run
    data = json.loads(files["json"])
    findings = [r for r in data["results"] if r["verdict"] == "fail"]
    assert {r["id"] for r in findings} == FLAWED
    for r in findings:
        assert r["advice"]["impact"] and r["advice"]["remediation"] and r["repro"][0].count("curl") == 1
    sarif = json.loads(files["sarif"])
    assert {r["ruleId"] for r in sarif["runs"][0]["results"]} == FLAWED
    for text in files.values():
        assert not re.search(r"eyJ[A-Za-z0-9_-]{40,}", text)


@pytest.mark.skipif(not shutil.which("curl") and not os.environ.get("CI"), reason="curl is not installed")
def test_revealed_curl_command_reproduces_the_accepted_forgery(tmp_path):
    """RFC 8725 §3.1: "Libraries MUST enable the caller to specify a supported set of algorithms and MUST NOT
    use any other algorithms when performing cryptographic operations." The revealed command replays the
    alg=none token by hand and the flawed server serves it (200 with the user); --reveal warns on stderr."""
    with flawed_rs(tmp_path, RSFlaws(alg_none=True)) as (base, profile):
        proc = conformance("--target", str(profile), "--only", "sig-alg-none", "--only", "sig-valid-hs256-control",
                           "--reveal")
        assert proc.returncode == 1, proc.stderr
        assert "warning: --reveal" in proc.stderr
        repro = proc.stdout.split("repro:\n", 1)[1].split("\n\n")[0]
        command = "\n".join(line[6:] for line in repro.splitlines() if line.startswith("      "))
        assert command.startswith("# probe: alg=none") and "\ncurl " in command and "…" not in command
        shown = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=30)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.startswith("HTTP/1.1 200")
    assert '"username": "johndoe"' in shown.stdout


def test_default_curl_command_is_shortened_and_says_how_to_reveal(alg_none_run):
    """Without --reveal the command shows what was sent, tokens shortened, and says how to get a replayable one."""
    _, proc, _ = alg_none_run
    assert "run with --reveal (local use only)" in proc.stdout
    assert re.search(r"Authorization: Bearer eyJhbGci…\S+ \(\d+ chars\)", proc.stdout)


@pytest.mark.skipif(not shutil.which("curl") and not os.environ.get("CI"), reason="curl is not installed")
def test_revealed_curl_command_replays_a_code_that_is_not_single_use(tmp_path):
    """RFC 6749 §4.1.2: "The client MUST NOT use the authorization code more than once. If an authorization
    code is used more than once, the authorization server MUST deny the request". The finding's command
    replays the token request by hand, and the flawed server issues tokens for that code once more."""
    with flawed_as(tmp_path, Flaws(code_replay=True)) as (_, profile):
        proc = conformance("--target", str(profile), "--only", "tok-code-reuse", "--reveal")
        assert proc.returncode == 1, proc.stdout + proc.stderr
        finding = proc.stdout.split("== Checklist")[0]
        assert "[1] CRITICAL vulnerability: vulnerable-as: tok-code-reuse" in finding
        assert "impact: A leaked or intercepted authorization code can be redeemed again." in finding
        assert "fix:    Consume codes once, atomically" in finding
        repro = finding.split("repro:\n", 1)[1].split("\n\n")[0]
        command = "\n".join(line[6:] for line in repro.splitlines() if line.startswith("      "))
        assert "grant_type=authorization_code" in command and "…" not in command
        shown = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=30)
    assert shown.stdout.startswith("HTTP/1.1 200"), shown.stdout[:300]
    assert '"access_token"' in shown.stdout


def test_every_scenario_has_an_impact_and_a_remediation():
    """Every catalog scenario's finding can say why it matters and what to change; no advice names a
    scenario the catalog does not have."""
    from conformance import CATALOG
    from conformance.remediation import BY_ID, FIXES, IMPACTS, REMEDIATION
    ids = {s.id for s in CATALOG}
    assert set(REMEDIATION) == ids
    assert all(a["impact"].endswith(".") and a["remediation"] for a in REMEDIATION.values())
    assert (set(IMPACTS) | set(BY_ID) | set(FIXES)) <= ids
    assert any("algorithms=[" in h for h in REMEDIATION["sig-alg-none"]["hints"])
