"""A full run of the resource-server catalog against our own backend2, backend3 and backend4 (behind
oauth-proxy), started by ``run.py conformance`` itself on free ports with throwaway keys: zero findings,
exit 0, and the reports it writes are complete."""
from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

from .conftest import ROOT

RS_FAMILIES = ["sig", "key", "time", "claims", "aud", "iss", "typ", "scope", "fmt", "bearer", "hyg"]


@pytest.mark.slow
def test_our_resource_servers_pass_the_whole_rs_catalog(tmp_path):
    """Every applicable RS scenario passes on backend2, backend3, backend4 (no vulnerability, no deviation, not
    even an informational one); controls ran; exit code 0."""
    cmd = [sys.executable, str(ROOT / "run.py"), "conformance", "--output", str(tmp_path),
           "--format", "json", "--format", "junit", "--format", "markdown"]
    for name in ("backend2", "backend3", "oauth-proxy", "backend4"):
        cmd += ["--servers", name]
    for fam in RS_FAMILIES:
        cmd += ["--only", fam]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=240, cwd=ROOT)
    report = json.loads((tmp_path / "conformance.json").read_text())
    bad = [(x["target"], x["id"], x["problems"][:2] or x["reason"]) for x in report["results"]
           if x["verdict"] in ("fail", "deviation", "error")]
    assert bad == [] and r.returncode == 0, (bad, r.stderr[-2000:])
    by = {(x["target"], x["id"]): x["verdict"] for x in report["results"]}
    assert by[("backend2", "sig-valid-hs256-control")] == "pass"
    assert by[("backend4", "sig-valid-rs256-control")] == "pass"
    for variant in ("spki-pem", "pem-variants", "pkcs1-pem", "der-cert-jwk", "openssh", "hs384-512"):
        assert by[("backend4", f"sig-confusion-{variant}")] == "pass"
    for must in ("time-exp-past", "aud-mismatch", "scope-insufficient"):
        assert by[("backend3", must)] == "pass" and by[("backend4", must)] == "pass"
    ET.fromstring((tmp_path / "conformance.xml").read_text())
    assert "## Sign-off" in (tmp_path / "conformance.md").read_text()
