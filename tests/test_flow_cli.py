"""run.py flow (issue 3 item 4): the Authorization Code + PKCE flow headless against a real oauth-proxy."""
from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT, live_server


def test_flow_cli_completes_against_a_live_proxy(tmp_path):
    """run.py flow (issue 3 item 4): discovery, PKCE, login form, code, token verified with the JWKS: exit 0;
    a wrong password exits 1; no password exits 2."""
    with live_server("oauth-proxy", tmp_path) as base:
        ok = subprocess.run([sys.executable, str(ROOT / "run.py"), "flow", "--issuer", base, "--password-stdin",
                             "--api", base + "/.well-known/jwks.json"], input="secret\n", capture_output=True,
                            text=True, cwd=ROOT, timeout=60)
        assert ok.returncode == 0, ok.stdout + ok.stderr
        for step in ("code_verifier", "code_challenge", "code ", '"gty": "authorization-code"', '"typ": "at+jwt"',
                     "signature        valid"):
            assert step in ok.stdout
        assert "secret" not in ok.stdout
        bad = subprocess.run([sys.executable, str(ROOT / "run.py"), "flow", "--issuer", base, "--password-stdin"],
                             input="wrong\n", capture_output=True, text=True, cwd=ROOT, timeout=60)
        assert bad.returncode == 1 and "login refused" in bad.stderr
    none = subprocess.run([sys.executable, str(ROOT / "run.py"), "flow"], capture_output=True, text=True,
                          cwd=ROOT, timeout=60, env={"PATH": "/usr/bin:/bin", "NO_COLOR": "1"})
    assert none.returncode == 2 and "no password" in none.stderr
