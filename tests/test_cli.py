"""run.py: keys, users, serve (the tutorial's ``run.py -v NAME`` alias too), exit codes and --help on every command."""
from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import urllib.request

import pytest

from cli import normalise_argv

from .conftest import ROOT, live_server


def run(*args, env=None, input=None, cwd=None):
    return subprocess.run([sys.executable, str(ROOT / "run.py"), *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, input=input, cwd=cwd or ROOT, timeout=60)


@pytest.mark.parametrize("argv", [["--help"], ["serve", "--help"], ["keys", "--help"],
                                  ["keys", "generate", "--help"], ["users", "--help"], ["users", "add", "--help"]])
def test_every_command_has_help(argv):
    r = run(*argv)
    assert r.returncode == 0 and "usage:" in r.stdout


def test_usage_error_exits_2():
    assert run("serve", "nonsense").returncode == 2
    assert run("frobnicate").returncode == 2


def test_seed_alias_run_py_v_backend_means_serve():
    assert normalise_argv(["-v", "backend"]) == ["serve", "backend", "--log-level", "debug"]
    assert normalise_argv(["backend2", "--port", "1"]) == ["serve", "backend2", "--port", "1"]


def test_keys_generate_writes_0600_hex_secret_and_keeps_it(tmp_path):
    """RFC 7518 §3.2: a 256-bit key; the file is readable by its owner only."""
    r = run("keys", "generate", "--keys-dir", str(tmp_path))
    assert r.returncode == 0
    path = tmp_path / "secrets.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    entry = json.loads(path.read_text())["hs256"][0]
    assert len(bytes.fromhex(entry["secret"])) == 32
    assert run("keys", "generate", "--keys-dir", str(tmp_path)).returncode == 0
    assert json.loads(path.read_text())["hs256"][0]["secret"] == entry["secret"]  # kept without --force
    run("keys", "generate", "--force", "--keys-dir", str(tmp_path))
    assert json.loads(path.read_text())["hs256"][0]["secret"] != entry["secret"]
    shown = run("keys", "show", "--keys-dir", str(tmp_path))
    assert shown.returncode == 0 and entry["secret"] not in shown.stdout


def test_short_hs256_secret_from_environment_is_refused(tmp_path):
    """RFC 7518 §3.2: "A key of the same size as the hash output ... or larger MUST be used"."""
    r = run("serve", "backend2", "--port", "1", "--data-dir", str(tmp_path / "d"), "--keys-dir",
            str(tmp_path / "k"), env={"OAUTHLAB_HS256_SECRET": "too-short"})
    assert r.returncode == 2
    assert r.stderr.startswith("error: the HS256 secret from OAUTHLAB_HS256_SECRET is 9 bytes")
    assert "Traceback" not in r.stderr


def test_users_add_list_disable_enable_passwd(tmp_path):
    d = ["--data-dir", str(tmp_path)]
    listed = json.loads(run("users", "list", "--json", *d).stdout)
    assert [(u["username"], u["disabled"]) for u in listed] == [("alice", True), ("johndoe", False)]
    assert run("users", "add", "bob", "--full-name", "Bob", "--password-stdin", *d, input="pw-bob\n").returncode == 0
    assert run("users", "add", "bob", "--password-stdin", *d, input="x\n").returncode == 2
    assert run("users", "disable", "bob", *d).returncode == 0
    assert [u for u in json.loads(run("users", "list", "--json", *d).stdout) if u["username"] == "bob"][0]["disabled"]
    assert run("users", "enable", "bob", *d).returncode == 0
    assert run("users", "passwd", "bob", "--password-stdin", *d, input="new-pw\n").returncode == 0
    assert run("users", "disable", "nobody", *d).returncode == 2
    assert "pw-bob" not in (tmp_path / "oauthlab.sqlite3").read_bytes().decode("latin-1")


def test_serve_backend_end_to_end_with_cli_managed_user(tmp_path):
    """The README journey from the command line: a user added with the CLI logs in on a running server."""
    d = ["--data-dir", str(tmp_path / "data")]
    run("users", "add", "carol", "--password-stdin", *d, input="carol-pw\n")
    with live_server("backend3", tmp_path) as base:
        body = "grant_type=password&username=carol&password=carol-pw&scope=me".encode()
        req = urllib.request.Request(base + "/token", data=body, method="POST")
        with urllib.request.urlopen(req) as r:
            token = json.load(r)["access_token"]
            assert r.headers["Cache-Control"] == "no-store"
        req = urllib.request.Request(base + "/users/me", headers={"Authorization": f"Bearer {token}"})
        with urllib.request.urlopen(req) as r:
            assert json.load(r)["username"] == "carol"
        run("users", "disable", "carol", *d)  # takes effect on the running server
        req = urllib.request.Request(base + "/users/me", headers={"Authorization": f"Bearer {token}"})
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(req)
        assert err.value.code == 401
        assert err.value.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'
    log = next(tmp_path.glob("backend3-*.log")).read_text()
    assert "GET /users/me 200" in log and token not in log and "carol-pw" not in log
