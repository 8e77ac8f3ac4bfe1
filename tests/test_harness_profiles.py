"""Target profiles (TOML): the public field names load as documented, secrets are resolved at load time,
and every mistake is refused with one line naming the field (the CLI exits 2 on it)."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from harness import forge
from harness.targets import ProfileError, load_profile, profile_from_dict, read_secret_file

from .conftest import ROOT

SECRET = "a" * 64


def hs_profile(tmp_path, **resource):
    f = tmp_path / "secrets.json"
    f.write_text(json.dumps({"hs256": [{"kid": "old", "secret": "b" * 64, "created": 0, "retired": 5},
                                       {"kid": "cur", "secret": SECRET, "created": 1, "retired": None}]}))
    res = {"endpoint": "/users/me", "issuer": "http://i", "audience": "http://a", "algorithm": "HS256",
           "subject": "johndoe", "secret_file": str(f)}
    res.update(resource)
    return {"name": "t", "kind": "resource-server", "base_url": "http://127.0.0.1:1", "resource": res}


def refused(data) -> str:
    with pytest.raises(ProfileError) as info:
        profile_from_dict(data)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_secrets_json_first_current_entry_signs(tmp_path):
    """Our secrets.json format: the first non-retired entry signs; its UTF-8 string is the HMAC key."""
    t = profile_from_dict(hs_profile(tmp_path))
    assert t.resource.signing_key == SECRET.encode() and t.resource.signing_kid == "cur"
    assert SECRET not in repr(t)


def test_raw_secret_file_drops_only_the_trailing_newline(tmp_path):
    """A file holding the raw secret: a trailing newline is not part of it."""
    f = tmp_path / "raw"
    f.write_text(" s3cret with spaces \n")
    assert read_secret_file(f) == (b" s3cret with spaces ", None)


def test_missing_required_field_names_it(tmp_path):
    """A missing field is one line naming section.field."""
    data = hs_profile(tmp_path)
    del data["resource"]["subject"]
    assert "resource.subject: missing" in refused(data)


def test_issuer_and_audience_are_optional_and_minted_tokens_then_carry_none(tmp_path):
    """A target that checks neither (a FastAPI-tutorial app) gets tokens without iss and aud."""
    from harness.rskit import RSKit
    data = hs_profile(tmp_path)
    del data["resource"]["issuer"], data["resource"]["audience"]
    t = profile_from_dict(data)
    assert t.resource.issuer is None and t.resource.audience is None
    claims = RSKit(t, None, None).claims()  # type: ignore[arg-type]
    assert "iss" not in claims and "aud" not in claims and claims["sub"] == "johndoe"
    assert RSKit(t, None, None).header()["typ"] == "JWT"  # type: ignore[arg-type]


def test_rfc9068_target_needs_issuer_and_audience(tmp_path):
    """RFC 9068 §2.2: every access token carries iss and aud, so an RFC 9068 profile names both."""
    data = hs_profile(tmp_path, rfc9068=True)
    del data["resource"]["audience"]
    assert "resource.audience: missing: rfc9068 = true needs it" in refused(data)
    assert "resource.rfc9068: must be of type boolean" in refused(hs_profile(tmp_path, rfc9068="yes"))


def test_issuer_is_a_string_or_uri(tmp_path):
    """RFC 7519 §4.1.1 / §2: iss is a StringOrURI: any string, and a value with ':' must be a URI."""
    assert profile_from_dict(hs_profile(tmp_path, issuer="urn:example:issuer")).resource.issuer == "urn:example:issuer"
    assert profile_from_dict(hs_profile(tmp_path, issuer="my-issuer")).resource.issuer == "my-issuer"
    assert "resource.issuer: must be a StringOrURI" in refused(hs_profile(tmp_path, issuer="1:2"))


@pytest.mark.parametrize("layout", [{"SECRET_KEY": SECRET}, {"secret": SECRET}, {"JWT_SECRET": SECRET},
                                    {"key": SECRET}])
def test_common_json_secret_layouts_are_read(tmp_path, layout):
    """A FastAPI-tutorial style {"SECRET_KEY": ...} and the other usual layouts hold the HMAC secret."""
    f = tmp_path / "secrets.json"
    f.write_text(json.dumps(layout))
    assert read_secret_file(f) == (SECRET.encode(), None)
    assert profile_from_dict(hs_profile(tmp_path, secret_file=str(f))).resource.signing_key == SECRET.encode()


def test_json_secret_file_without_a_secret_is_one_line_error(tmp_path):
    """JSON that holds no secret under a known name is refused, never read as a raw secret."""
    f = tmp_path / "other.json"
    f.write_text(json.dumps({"database": "x", "debug": True}))
    message = refused(hs_profile(tmp_path, secret_file=str(f)))
    assert message.startswith(f"resource.secret_file: {f} is not readable as a secret (a JSON object without")
    assert "keys: database, debug" in message


def test_contradictory_key_sources_are_refused(tmp_path):
    """Exactly one of secret_file / secret_env for HS256."""
    assert "resource.secret_env" in refused(hs_profile(tmp_path, secret_env="X"))


def test_hs256_without_secret_names_secret_file(tmp_path):
    data = hs_profile(tmp_path)
    del data["resource"]["secret_file"]
    assert "resource.secret_file: missing" in refused(data)


def test_unknown_field_is_refused(tmp_path):
    assert "resource.audiance: unknown field" in refused(hs_profile(tmp_path, audiance="x"))


def test_wrong_type_names_the_field(tmp_path):
    assert "resource.lifetime: must be of type integer, got '300'" in refused(hs_profile(tmp_path, lifetime="300"))


def test_scoped_endpoint_needs_scoped_scope(tmp_path):
    assert "resource.scoped_scope" in refused(hs_profile(tmp_path, scoped_endpoint="/x"))


def test_unset_secret_env_is_named(tmp_path, monkeypatch):
    monkeypatch.delenv("NO_SUCH_SECRET_XYZ", raising=False)
    data = hs_profile(tmp_path, secret_env="NO_SUCH_SECRET_XYZ")
    del data["resource"]["secret_file"]
    assert "resource.secret_env: the environment variable NO_SUCH_SECRET_XYZ is not set" in refused(data)


def test_opaque_needs_token_endpoint_and_refuses_keys(tmp_path):
    """algorithm = "opaque" obtains tokens by the password grant: it needs token_endpoint/username/password."""
    base = {"name": "o", "kind": "resource-server", "base_url": "http://127.0.0.1:1",
            "resource": {"endpoint": "/users/me", "algorithm": "opaque"}}
    assert "resource.token_endpoint: missing" in refused(base)
    base["resource"].update(token_endpoint="/token", username="u", password="p", secret_env="X")
    assert "resource.secret_env: contradicts" in refused(base)


def test_rs256_private_key_file_is_loaded(tmp_path):
    key = forge.harness_rsa_key(6)
    pem = tmp_path / "k.pem"
    pem.write_bytes(key.private_bytes(forge.serialization.Encoding.PEM, forge.serialization.PrivateFormat.PKCS8,
                                      forge.serialization.NoEncryption()))
    data = hs_profile(tmp_path, algorithm="RS256", private_key_file=str(pem))
    del data["resource"]["secret_file"]
    t = profile_from_dict(data)
    assert t.resource.signing_key.public_key().public_numbers() == key.public_key().public_numbers()


def test_authorization_server_secret_from_env(monkeypatch):
    """confidential_client_secret_env is resolved at load time into confidential_client_secret."""
    monkeypatch.setenv("M2M_TEST_SECRET", "sekret")
    t = profile_from_dict({"name": "as", "kind": "authorization-server", "authorization_server": {
        "issuer": "http://127.0.0.1:9001", "client_id": "frontend", "redirect_uri": "http://localhost:8080/callback",
        "username": "johndoe", "password": "secret", "confidential_client_id": "m2m",
        "confidential_client_secret_env": "M2M_TEST_SECRET"}})
    assert t.authorization_server.confidential_client_secret == "sekret"
    assert t.base_url == "http://127.0.0.1:9001" and t.authorization_server.username_field == "username"


def test_our_templates_parse(tmp_path, monkeypatch):
    """Every profile in conformance/targets/ is a valid profile once its key files exist."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "secrets.json").write_text(json.dumps({"hs256": [{"kid": "k", "secret": SECRET}]}))
    (tmp_path / "keys" / "oauth-proxy-rs256-KID.pem").write_bytes(forge.harness_rsa_key(6).private_bytes(
        forge.serialization.Encoding.PEM, forge.serialization.PrivateFormat.PKCS8, forge.serialization.NoEncryption()))
    monkeypatch.setenv("OAUTHLAB_M2M_SECRET", "x")
    names = set()
    for path in sorted((ROOT / "conformance" / "targets").glob("*.toml")):
        names.add(load_profile(path).name)
    assert {"backend", "backend2", "backend3", "backend4", "oauth-proxy"} <= names


def test_cli_bad_profile_is_one_line_and_exit_2(tmp_path):
    """run.py conformance --target with a broken profile: exit 2, one line naming the field, no traceback."""
    p = tmp_path / "bad.toml"
    p.write_text('name = "x"\nkind = "resource-server"\nbase_url = "http://127.0.0.1:1"\n[resource]\n'
                 'endpoint = "/me"\nalgorithm = "HS999"\n')
    r = subprocess.run([sys.executable, str(ROOT / "run.py"), "conformance", "--target", str(p)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    assert r.stderr.strip().count("\n") == 0 and "resource.algorithm" in r.stderr
    assert "Traceback" not in r.stderr


def test_cli_json_secret_without_secret_exits_2(tmp_path):
    """run.py conformance with a secret_file in an unknown JSON layout: exit 2, one line."""
    f = tmp_path / "s.json"
    f.write_text('{"token": 1}')
    p = tmp_path / "t.toml"
    p.write_text(f'name = "x"\nkind = "resource-server"\nbase_url = "http://127.0.0.1:1"\n[resource]\n'
                 f'endpoint = "/me"\nalgorithm = "HS256"\nsubject = "u"\nsecret_file = "{f}"\n')
    r = subprocess.run([sys.executable, str(ROOT / "run.py"), "conformance", "--target", str(p)],
                       capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert r.returncode == 2
    assert r.stderr.strip().count("\n") == 0 and "resource.secret_file" in r.stderr and "Traceback" not in r.stderr


def test_cli_unreachable_target_is_one_line_and_exit_2(tmp_path):
    """An unreachable target: exit 2 and one clear line."""
    from .conftest import free_port
    port = free_port()
    f = tmp_path / "s"
    f.write_text(SECRET)
    p = tmp_path / "t.toml"
    p.write_text(f'name = "gone"\nkind = "resource-server"\nbase_url = "http://127.0.0.1:{port}"\n[resource]\n'
                 f'endpoint = "/me"\nalgorithm = "HS256"\nissuer = "http://i"\naudience = "http://a"\n'
                 f'subject = "u"\nsecret_file = "{f}"\n')
    r = subprocess.run([sys.executable, str(ROOT / "run.py"), "conformance", "--target", str(p), "--only", "sig"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    assert "gone:" in r.stderr and "unreachable" in r.stderr and "Traceback" not in r.stderr
