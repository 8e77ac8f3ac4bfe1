"""Calibration of the resource-server catalog on real third-party resource servers, started here for real:

- the FastAPI security tutorial (bench/peers/fastapi_tutorial.py, PyJWT HS256, served by uvicorn), from a
  profile WITHOUT issuer/audience and its secret in a tutorial-style ``secrets.json``;
- a resource server on jose (npm; tests/calibration/node_rs: ``jwtVerify`` with a local JWKS, algorithms pinned).

Each findings file (tests/calibration/<target>.json) lists the findings judged real by hand, each with the RFC
sentence that makes it real, and the deviation classes judged real for every scenario of that target (a bare
``Bearer`` challenge). The whole RS catalog runs at the default ``--jobs`` and at ``--jobs 1``: any other finding,
any ``error``, a judged finding that no longer shows, or a verdict that differs between the two runs fails.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conformance import CATALOG
from harness import forge, runner
from harness.targets import profile_from_dict

from cli.processes import stop

from .conftest import ROOT, free_port, wait_http

CALIBRATION = Path(__file__).resolve().parent / "calibration"
NODE_RS = CALIBRATION / "node_rs"
RS_CATALOG = [s for s in CATALOG if s.applies_to == "resource-server"]
DEFAULT_JOBS = 8  # run.py conformance --jobs default


def _missing(what: str, how: str) -> None:
    """A required component is missing: FAIL under CI (it must be installed there), skip elsewhere."""
    if os.environ.get("CI"):
        pytest.fail(f"{what} is missing: {how}")
    pytest.skip(f"{what} is missing: {how}")


def start_fastapi_tutorial(tmp_path: Path):
    """uvicorn serving the tutorial's app (its published SECRET_KEY), and its tutorial-style profile."""
    for module in ("fastapi", "uvicorn", "pwdlib", "python_multipart"):
        try:
            __import__(module)
        except ImportError:
            _missing(f"the Python package {module}", 'pip install -e ".[test]"')
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "bench.peers.fastapi_tutorial:app", "--host",
                             "127.0.0.1", "--port", str(port), "--log-level", "warning", "--no-access-log"],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_http(base + "/docs", proc)
    except RuntimeError:
        stop(proc)
        raise
    from bench.peers.fastapi_tutorial import SECRET_KEY
    secrets_file = tmp_path / "secrets.json"
    secrets_file.write_text(json.dumps({"SECRET_KEY": SECRET_KEY}))
    profile = {"name": "fastapi-tutorial", "kind": "resource-server", "base_url": base,
               "resource": {"endpoint": "/users/me/", "algorithm": "HS256", "subject": "johndoe",
                            "secret_file": str(secrets_file)}}
    return proc, profile


def start_jose_rs(tmp_path: Path):
    """node serving tests/calibration/node_rs/server.js with a fresh RS256 key, and its RFC 9068 profile."""
    node = shutil.which("node")
    if node is None:
        _missing("node", "apt-get install nodejs npm")
    if not (NODE_RS / "node_modules" / "jose" / "package.json").exists():
        _missing("jose (npm)", "run .ci/install-node-rs.sh (npm ci in tests/calibration/node_rs)")
    key = forge.harness_rsa_key(11)
    key_file = tmp_path / "rs256.pem"
    key_file.write_bytes(key.private_bytes(forge.serialization.Encoding.PEM, forge.serialization.PrivateFormat.PKCS8,
                                           forge.serialization.NoEncryption()))
    kid = forge.jwk_thumbprint(forge.public_jwk(key))  # RFC 7638 thumbprint, as the harness names the key
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps({"keys": [forge.public_jwk(key, kid=kid, use="sig", alg="RS256")]}))
    port = free_port()
    proc = subprocess.Popen([node, "server.js", str(port), str(jwks)], cwd=NODE_RS, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_http(base + "/health", proc)
    except RuntimeError:
        stop(proc)
        raise
    profile = {"name": "jose-rs", "kind": "resource-server", "base_url": base,
               "resource": {"endpoint": "/users/me", "scoped_endpoint": "/users/me/items", "scoped_scope": "items",
                            "issuer": "urn:example:issuer", "audience": "urn:example:audience",
                            "algorithm": "RS256", "typ": "at+jwt", "rfc9068": True, "subject": "johndoe",
                            "scope": "me items", "private_key_file": str(key_file)}}
    return proc, profile


TARGETS = {"fastapi-tutorial": start_fastapi_tutorial, "jose-rs": start_jose_rs}


def _shows(problem: str, label: str) -> bool:
    """A problem of the probe labelled ``label`` (or a scenario-level problem with exactly this text)."""
    return problem == label or problem.startswith(label + ":")


def judge(report: runner.RunReport, judged: dict) -> list[str]:
    """Every finding of the run against the judged list: what is not in it, and what in it did not show."""
    findings = {f["scenario"]: f for f in judged["findings"]}
    everywhere = {d["rule"] for d in judged.get("deviations_everywhere", [])}
    out = []
    by_id = {r.id: r for r in report.results}
    for r in report.results:
        if r.verdict == "error":
            out.append(f"{r.id}: error ({r.reason})")
            continue
        if r.verdict not in ("fail", "deviation"):
            continue
        entry = findings.get(r.id)
        labels = entry["problems"] if entry else []
        for p in r.problems:
            if p.impact == "deviation" and p.rule in everywhere:
                continue
            if not any(_shows(p, label) for label in labels):
                out.append(f"{r.id}: unjudged {p.impact} {str(p)[:160]!r} ({p.rule[:80]})")
        if entry and r.verdict != entry["verdict"]:
            out.append(f"{r.id}: verdict {r.verdict}, judged {entry['verdict']}")
    for sid, entry in findings.items():
        r = by_id.get(sid)
        if r is None or r.verdict != entry["verdict"]:
            out.append(f"{sid}: judged {entry['verdict']} but the run says {r.verdict if r else 'nothing'}")
            continue
        for label in entry["problems"]:
            if not any(_shows(p, label) for p in r.problems):
                out.append(f"{sid}: the judged problem {label!r} did not show")
    return out


@pytest.mark.parametrize("name", list(TARGETS))
async def test_calibration_target_gets_exactly_its_judged_findings(name, tmp_path):
    """On a real third-party resource server the catalog reports exactly the findings judged real against the
    RFC (tests/calibration/<target>.json), no error, and the same verdicts at the default --jobs and at 1."""
    judged = json.loads((CALIBRATION / f"{name}.json").read_text())
    proc, profile = TARGETS[name](tmp_path)
    try:
        target = profile_from_dict(profile)
        parallel = await runner.run([target], RS_CATALOG, jobs=DEFAULT_JOBS)
        serial = await runner.run([target], RS_CATALOG, jobs=1)
    finally:
        stop(proc)
    assert judge(parallel, judged) == []
    assert {r.id: r.verdict for r in parallel.results} == {r.id: r.verdict for r in serial.results}
    assert parallel.exit_code() == 1  # judged-real findings fail the run at the default --fail-on low
    controls = [r for r in parallel.results if r.id.startswith("sig-valid-") and r.verdict != "not-applicable"]
    assert [r.verdict for r in controls] == ["pass"], [(r.id, r.problems[:1]) for r in controls]
    notes = judged.get("notes", [])
    assert [n for n in parallel.targets[0].notes] == notes
