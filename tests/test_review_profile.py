"""``run.py profile init|check``: a starter profile from RFC 8414 / OpenID discovery that, once its TODOs
are filled, runs against our oauth-proxy with no error; ``check`` names what is missing, exit 2 on a bad
profile."""
from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys

import pytest
import tomllib
from pathlib import Path

from cli.conformance import current_signing_key
from cli.processes import stop
from harness import askit

from .conftest import ROOT, free_port, live_server, wait_http
from .review_support import RSFlaws, flawed_rs


def run(*args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "run.py", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout)


def fill(path, **values: str) -> None:
    text = path.read_text()
    for name, value in values.items():
        text, n = re.subn(rf'^{name} = "TODO[^\n]*$', f"{name} = {json.dumps(value)}", text, flags=re.MULTILINE)
        assert n == 1, name
    path.write_text(text)


PROXY_DIRS: dict[str, Path] = {}


@pytest.fixture(scope="module")
def proxy(tmp_path_factory):
    """Our oauth-proxy, started once for this module (``run.py serve`` in a subprocess); its directory (keys)
    is ``PROXY_DIRS[url]``."""
    directory = tmp_path_factory.mktemp("proxy")
    with live_server("oauth-proxy", directory) as base:
        PROXY_DIRS[base] = directory
        yield base


def test_metadata_is_read_with_the_well_known_segment_before_the_issuer_path():
    """RFC 8414 §3.1: "the well-known URI string is inserted into the issuer identifier between the host
    component and the path component, if any"; OpenID discovery (appended) is tried next."""
    assert askit.metadata_urls("https://as.example/tenant1")[:2] == [
        "https://as.example/.well-known/oauth-authorization-server/tenant1",
        "https://as.example/tenant1/.well-known/openid-configuration"]


def test_profile_from_oauth_proxy_discovery_runs_with_no_error_once_filled(tmp_path, proxy):
    """init writes what discovery shows (issuer, login form fields, scopes) and TODO for the credentials;
    check refuses the TODOs (exit 2, naming the field); filled in, check plans the AS families and the
    conformance run has zero errors."""
    profile = tmp_path / "proxy.toml"
    base = proxy
    init = run("profile", "init", "--issuer", base, "--client-id", "frontend", "--redirect-uri",
               "http://localhost:8080/callback", "--name", "proxy", "--output", str(profile))
    assert init.returncode == 0, init.stderr
    assert "(2 TODO value(s) to fill in" in init.stderr
    text = profile.read_text()
    assert f"# from {base}/.well-known/oauth-authorization-server." in text
    assert 'username_field = "username"  # read from the login form' in text
    data = tomllib.loads(text)
    assert data["authorization_server"]["issuer"] == base and data["authorization_server"]["scope"] == "me items"
    todo = run("profile", "check", str(profile))
    assert todo.returncode == 2
    assert todo.stderr.startswith(f"error: {profile}: authorization_server.username: still TODO")
    fill(profile, username="johndoe", password="secret")
    check = run("profile", "check", str(profile))
    assert check.returncode == 0, check.stderr
    assert re.search(r"^  pkce\s+12/12\s+will run$", check.stdout, re.MULTILINE)
    assert "not: the profile names no confidential client" in check.stdout
    assert "26 not: the profile has no [resource] section" in check.stdout
    review = run("conformance", "--target", str(profile), "--format", "json")
    report = json.loads(review.stdout)
    assert report["summary"]["error"] == 0, [r for r in report["results"] if r["verdict"] == "error"]
    assert report["summary"]["pass"] >= 40
    assert review.returncode == 0, report["summary"]


def test_resource_probe_records_the_challenge_and_leaves_the_key_as_todo(tmp_path, proxy):
    """RFC 6750 §3: "If the protected resource request does not include authentication credentials ... the
    resource server ... SHOULD NOT include an error code" and answers 401 with a Bearer challenge; init
    records what the API answered and leaves audience, subject and key to the user."""
    issuer = proxy
    with flawed_rs(tmp_path, RSFlaws()) as (api, _):
        init = run("profile", "init", "--issuer", issuer, "--resource", f"{api}/users/me")
    assert init.returncode == 0, init.stderr
    assert f"probed at {api}/users/me: answered 401 without a token, WWW-Authenticate: Bearer" in init.stdout
    data = tomllib.loads(init.stdout)
    assert data["resource"]["algorithm"] == "RS256" and data["resource"]["jwks_url"] == f"{issuer}/.well-known/jwks.json"
    assert data["resource"]["audience"].startswith("TODO") and data["resource"]["private_key_file"].startswith("TODO")


def test_discovery_failure_and_bad_issuer_are_one_line_exit_2(tmp_path):
    """No metadata where RFC 8414 §3.1 puts it: one line, exit 2, no traceback."""
    with flawed_rs(tmp_path, RSFlaws()) as (api, _):
        missing = run("profile", "init", "--issuer", api)
    assert missing.returncode == 2 and "error: discovery failed: no authorization server metadata" in missing.stderr
    bad = run("profile", "init", "--issuer", "as.example")
    assert bad.returncode == 2 and bad.stderr == "error: --issuer must be an absolute http(s) URL, got 'as.example'\n"


def test_check_names_the_bad_field(tmp_path):
    """A profile error is one line naming section.field, exit 2."""
    path = tmp_path / "p.toml"
    path.write_text('name = "x"\nkind = "resource-server"\nbase_url = "http://127.0.0.1:1"\n[resource]\n'
                    'endpoint = "users/me"\nalgorithm = "HS256"\n')
    proc = run("profile", "check", "--offline", str(path))
    assert proc.returncode == 2
    assert proc.stderr == f"error: {path}: resource.endpoint: must be a path starting with '/' or an absolute URL, got 'users/me'\n"


OIDC_PROVIDER = ROOT / "tests" / "oidc_provider"


@contextlib.contextmanager
def oidc_provider(tmp_path):
    """node oidc-provider (tests/oidc_provider/server.js) on a free port; yields its issuer."""
    if not (OIDC_PROVIDER / "node_modules" / "oidc-provider").is_dir():
        message = "tests/oidc_provider has no node_modules: run .ci/install-review.sh"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    port = free_port()
    with open(tmp_path / "oidc-provider.log", "w") as log:
        proc = subprocess.Popen(["node", "server.js", str(port)], cwd=OIDC_PROVIDER, stdout=log,
                                stderr=subprocess.STDOUT)
        try:
            wait_http(f"http://127.0.0.1:{port}/.well-known/openid-configuration", proc)
            yield f"http://127.0.0.1:{port}"
        finally:
            stop(proc)


def test_profile_from_node_oidc_provider_runs_with_no_error_once_filled(tmp_path):
    """Against another implementation: init reads oidc-provider's metadata and its login form (input
    "login"); with the TODOs filled (any test user, the scopes "me items") the run has zero errors."""
    profile = tmp_path / "oidc.toml"
    with oidc_provider(tmp_path) as issuer:
        init = run("profile", "init", "--issuer", issuer, "--client-id", "spa", "--redirect-uri",
                   "http://localhost:8080/callback", "--output", str(profile))
        assert init.returncode == 0, init.stderr
        text = profile.read_text()
        assert 'username_field = "login"  # read from the login form' in text
        assert f"# authorization_endpoint: {issuer}/auth" in text
        with flawed_rs(tmp_path, RSFlaws()) as (api, _):
            probed = run("profile", "init", "--issuer", issuer, "--resource", f"{api}/users/me")
        # its JWK Set is served as application/jwk-set+json
        assert 'algorithm = "RS256"  # the JWKS holds: keystore-CHANGE-ME (RSA/RS256)' in probed.stdout
        fill(profile, username="alice", password="any-password")
        profile.write_text(re.sub(r"^scope = .*$", 'scope = "me items"', profile.read_text(), flags=re.MULTILINE))
        assert run("profile", "check", str(profile)).returncode == 0
        # One scenario at a time: the authorization-server kit's flows share one browser session (one
        # cookie jar), and run concurrently they collide in oidc-provider's interactions (errors at --jobs 8).
        review = run("conformance", "--target", str(profile), "--format", "json", "--jobs", "1")
    report = json.loads(review.stdout)
    assert report["targets"][0]["status"] == "ok"
    assert report["summary"]["error"] == 0, [(r["id"], r["reason"]) for r in report["results"] if r["verdict"] == "error"]
    assert report["summary"]["pass"] >= 30


def test_init_never_overwrites_a_profile_without_force(tmp_path, proxy):
    """A filled-in profile is not lost to a second init: exit 2 unless --force."""
    existing = tmp_path / "p.toml"
    existing.write_text("filled in\n")
    again = run("profile", "init", "--issuer", proxy, "--output", str(existing))
    assert again.returncode == 2 and "exists" in again.stderr and existing.read_text() == "filled in\n"
    forced = run("profile", "init", "--issuer", proxy, "--output", str(existing), "--force")
    assert forced.returncode == 0 and existing.read_text().startswith("# Starter profile")


def test_check_signs_in_and_reports_refused_credentials(tmp_path, proxy):
    """A profile whose user cannot sign in would turn every authorization-server scenario into an error:
    check says so in one line and exits 2."""
    profile = tmp_path / "proxy.toml"
    assert run("profile", "init", "--issuer", proxy, "--client-id", "frontend", "--redirect-uri",
               "http://localhost:8080/callback", "--output", str(profile)).returncode == 0
    fill(profile, username="johndoe", password="not-the-password")
    proc = run("profile", "check", str(profile))
    assert proc.returncode == 2
    assert "signing in with the profile's user did not return a code" in proc.stderr
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert "note: the target is not ready" in proc.stdout


def test_resource_profile_from_discovery_runs_against_backend4_with_no_error(tmp_path, proxy):
    """With --resource, the [resource] table: issuer and JWKS from discovery, the algorithm from the JWKS,
    client_id from --client-id (RFC 9068 §2.2: "client_id ... REQUIRED"); with audience, subject, scope and
    the signing key filled in, the resource-server families run against backend4 with no error."""
    port = free_port()
    api = f"http://127.0.0.1:{port}"
    profile = tmp_path / "api.toml"
    with live_server("backend4", tmp_path / "b4", "--upstream-issuer", proxy, "--audience", api, port=port):
        init = run("profile", "init", "--issuer", proxy, "--client-id", "frontend", "--redirect-uri",
                   "http://localhost:8080/callback", "--resource", f"{api}/users/me", "--name", "api",
                   "--output", str(profile))
        assert init.returncode == 0, init.stderr
        data = tomllib.loads(profile.read_text())
        assert data["resource"]["claims"] == {"client_id": "frontend"} and data["resource"]["issuer"] == proxy
        key = current_signing_key(PROXY_DIRS[proxy] / "keys")
        fill(profile, username="johndoe", password="secret", audience=api, subject="johndoe",
             private_key_file=str(key))
        text = re.sub(r'^scope = "".*$', 'scope = "me items"', profile.read_text(), flags=re.MULTILINE)
        profile.write_text(text.replace("# rfc9068 = true", "rfc9068 = true"))  # backend4 is one (RFC 9068 §4)
        review = run("conformance", "--target", str(profile), "--format", "json",
                     *[a for fam in ("sig", "key", "time", "aud", "iss") for a in ("--only", fam)])
    report = json.loads(review.stdout)
    assert report["summary"]["error"] == 0, [(r["id"], r["reason"]) for r in report["results"] if r["verdict"] == "error"]
    assert report["summary"]["fail"] == 0 and report["summary"]["pass"] >= 30, report["summary"]
    assert review.returncode == 0
