"""Calibration of the authorization-server catalog on real third-party servers, started here for real: node
oidc-provider 8.8.1 (OpenID Certified; tests/calibration/node_as) and Authlib's Flask authorization server
(tests/calibration/authlib_as.py).

The whole AS catalog (without the ``slow`` rows) runs at the default --jobs and at --jobs 1: no ``error``, the
same verdict for every scenario both times, and no finding but the ones judged real against the RFC in
tests/calibration/as_findings.py. A new false positive, a lost true positive or a flaky login fails here.
"""
from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import pytest

from cli.processes import free_port, stop, wait_http
from conformance import CATALOG
from harness import runner
from harness.targets import load_profile

from .calibration.as_findings import JUDGED

ROOT = Path(__file__).resolve().parent.parent
CALIBRATION = ROOT / "tests" / "calibration"
NODE_AS = CALIBRATION / "node_as"
DEFAULT_JOBS = 8        # cli/conformance.py's default --jobs
AS_CATALOG = [s for s in CATALOG if s.applies_to != "resource-server" and "slow" not in s.tags]


def _missing(what: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{what} (CI runs .ci/install-node-as.sh first)")
    pytest.skip(what)


@contextmanager
def started(cmd: list[str], cwd: Path, metadata_path: str, port: int):
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_http(f"http://127.0.0.1:{port}{metadata_path}", proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(proc)


def run_catalog(profile: Path, base: str, jobs: int) -> runner.RunReport:
    target = load_profile(profile, {"base_url": base, "authorization_server": {"issuer": base}})
    return asyncio.run(runner.run([target], AS_CATALOG, jobs=jobs, progress=runner.Progress(0, enabled=False)))


def check_calibration(name: str, profile: Path, base: str) -> None:
    default = run_catalog(profile, base, DEFAULT_JOBS)
    assert not default.unreachable, default.targets
    verdicts = {r.id: r.verdict for r in default.results}
    errors = {r.id: r.reason for r in default.results if r.verdict == "error"}
    assert errors == {}
    found = {r.id: r.verdict for r in default.results if r.verdict in ("fail", "deviation")}
    judged = {k: v[0] for k, v in JUDGED[name].items()}
    unexpected = {r.id: [str(p) for p in r.problems] for r in default.results if r.id in set(found) - set(judged)}
    assert found == judged, unexpected
    one = run_catalog(profile, base, 1)
    sequential = {r.id: r.verdict for r in one.results}
    assert sequential == verdicts, {r.id: (r.verdict, [str(p) for p in r.problems], r.reason) for r in one.results
                                    if verdicts.get(r.id) != r.verdict}


def test_node_oidc_provider_findings_are_exactly_the_judged_ones():
    """node oidc-provider 8.8.1 with code + PKCE S256, public and confidential clients, refresh tokens,
    client_credentials and RFC 8707 resource indicators: RFC 6749 §4.1.3 (redirect_uri may be omitted at
    the token endpoint) and §5.2 (invalid_request where unauthorized_client fits) are its only findings,
    both deviations; none of the earlier false positives (tok-client-auth-missing, authz-csrf-consent,
    authz-duplicate-param, tok-get, rt-scope-narrowing, Pragma) comes back."""
    if shutil.which("node") is None:
        _missing("node is not installed")
    if not (NODE_AS / "node_modules" / "oidc-provider").is_dir():
        _missing("tests/calibration/node_as has no node_modules (npm ci)")
    port = free_port()
    with started(["node", "server.mjs", str(port)], NODE_AS, "/.well-known/openid-configuration", port) as base:
        check_calibration("node-oidc-provider", CALIBRATION / "node_as.toml", base)


def test_authlib_authorization_server_findings_are_exactly_the_judged_ones():
    """Authlib's Flask AuthorizationServer (authorization code + CodeChallenge(required=True), rotated refresh
    tokens, client credentials, RFC 7009 revocation): its findings are the six judged in as_findings.py, one
    vulnerability (RFC 9700 §2.2.2: a replayed rotated refresh token does not revoke its successor) and five
    deviations."""
    port = free_port()
    cmd = [sys.executable, "-m", "tests.calibration.authlib_as", str(port)]
    with started(cmd, ROOT, "/.well-known/oauth-authorization-server", port) as base:
        check_calibration("authlib-as", CALIBRATION / "authlib_as.toml", base)
