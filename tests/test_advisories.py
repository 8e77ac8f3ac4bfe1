"""Published advisories replayed by the catalog's own scenarios against the library versions they name.

Each test starts a tiny resource server around the vulnerable version of a real library (vendored by
``.ci/install-vulnerable-libs.sh`` under tests/calibration/vulnerable_libs/, never in the main environment),
runs the CVE-tagged scenario with ``harness.runner.run`` and asserts that it reports the vulnerability; then
the same server around the fixed version, where the same scenario passes. The scenario's probes carry the
exploit's exact shape (docs/advisories.md explains each one).
"""
from __future__ import annotations

import contextlib
import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from cli.processes import free_port, wait_http
from conformance import CATALOG
from harness import runner
from harness.scenario import impact_of
from harness.targets import profile_from_dict

from .conftest import ROOT

LIBS = ROOT / "tests" / "calibration" / "vulnerable_libs"
VENDOR = LIBS / ".vendor"
ISSUER = "https://issuer.example"


def _installed(path: Path) -> Path:
    """A vendored library; missing: a failure in CI (the install step did not run), a skip elsewhere."""
    if not path.exists():
        message = f"{path} is missing: run .ci/install-vulnerable-libs.sh"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


def _write_private(path: Path, key) -> str:
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    return str(path)


@contextlib.contextmanager
def _server(cmd: list[str], env: dict[str, str], port: int):
    proc = subprocess.Popen(cmd, cwd=ROOT, env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **env},
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        try:
            wait_http(f"http://127.0.0.1:{port}/health", proc, timeout=20)
        except RuntimeError as exc:
            raise RuntimeError(f"{exc}: {proc.stderr.read().decode()[-800:] if proc.stderr else ''}") from None
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()


def _target(base: str, algorithm: str, **key_source: str):
    res = {"endpoint": "/users/me", "issuer": ISSUER, "audience": base, "algorithm": algorithm, "subject": "johndoe",
           "scope": "me", "lifetime": 300, **key_source}
    return profile_from_dict({"name": "advisory-rs", "kind": "resource-server", "base_url": base, "resource": res})


async def _verdict(target, scenario_id: str, control_id: str, control_must_pass: bool = True):
    """The scenario's result (with its control) from the harness runner."""
    report = await runner.run([target], runner.select(CATALOG, [scenario_id, control_id]), jobs=2)
    by_id = {r.id: r for r in report.results}
    if control_must_pass:
        assert by_id[control_id].verdict == "pass", (by_id[control_id].problems, by_id[control_id].reason)
    return by_id[scenario_id]


def _assert_vulnerable(result) -> None:
    assert result.verdict == "fail", (result.verdict, result.problems, result.reason)
    assert result.problems and all(impact_of(p) == "vulnerability" for p in result.problems), result.problems


def _assert_fixed(result) -> None:
    assert result.verdict == "pass", (result.verdict, result.problems, result.reason)


async def _python_verdict(tmp_path: Path, version: str, mode: str, key, public: bytes, algorithm: str,
                         scenario_id: str, control_id: str = "sig-valid-rs256-control", **profile: str):
    """Run ``scenario_id`` against python_rs.py on the vendored library ``version`` holding ``public`` (the
    harness signs with ``key``: a private key, or the HS256 secret itself)."""
    library = {"python-jwt": "python-jwt", "authlib": "authlib"}.get(mode, "pyjwt")
    vendored = _installed(VENDOR / f"{library}-{version}")
    key_file = tmp_path / "public-key"
    key_file.write_bytes(public)
    port = free_port()
    cmd = [sys.executable, str(LIBS / "python_rs.py"), "--port", str(port), "--key-file", str(key_file), "--mode", mode,
           "--issuer", ISSUER, "--audience", f"http://127.0.0.1:{port}"]
    with _server(cmd, {"PYTHONPATH": str(vendored)}, port) as base:
        source = {"secret_file": str(key_file)} if algorithm.startswith("HS") else \
            {"private_key_file": _write_private(tmp_path / "private.pem", key)}
        return await _verdict(_target(base, algorithm, **source, **profile), scenario_id, control_id)


# 1.5.1 carried the fix but passed ``algorithms`` into PyJWS.decode's ``verify`` slot, so without ``algorithms``
# it verified no signature at all (fixed in 1.5.2, "Ensure correct arguments order in decode super call"):
# 1.5.2 is the first version that is fixed for the application below.
@pytest.mark.parametrize("version,vulnerable", [("1.5.0", True), ("1.5.2", False)])
async def test_cve_2017_11424_pkcs1_public_key_as_hmac_secret(tmp_path, version, vulnerable):
    """CVE-2017-11424 (GHSA-r9jw-mwhq-wp62): PyJWT <= 1.5.0 refused PEM public keys and certificates as HMAC
    secrets by their header lines but missed PKCS#1 ``-----BEGIN RSA PUBLIC KEY-----``; an application that
    holds its RS256 key in that form and does not pin ``algorithms`` accepts an HS256 token keyed with the
    file's bytes. RFC 8725 §2.1: the attacker "uses the public key as the HMAC secret". The probe is the
    fix's own test case: HS256 over the PKCS#1 PEM, byte for byte as the application reads it."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.PKCS1)
    result = await _python_verdict(tmp_path, version, "pkcs1", key, public, "RS256", "sig-confusion-pkcs1-pem")
    (_assert_vulnerable if vulnerable else _assert_fixed)(result)


@pytest.mark.parametrize("version,vulnerable", [("2.3.0", True), ("2.4.0", False)])
async def test_cve_2022_29217_openssh_public_key_as_hmac_secret(tmp_path, version, vulnerable):
    """CVE-2022-29217 (GHSA-ffqj-6fqr-9h24): PyJWT <= 2.3.0 blocked only ``ssh-rsa`` among OpenSSH keys, so an
    application passing ``jwt.algorithms.get_default_algorithms()`` with an ``ecdsa-sha2-nistp256`` public key
    accepts HS256 tokens keyed with that key line (the advisory's proof of concept, with an ECDSA key where it
    used Ed25519; 2.4.0 refuses every SSH and PEM key as an HMAC secret)."""
    key = ec.generate_private_key(ec.SECP256R1())
    public = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    result = await _python_verdict(tmp_path, version, "openssh", key, public, "ES256", "sig-confusion-openssh")
    (_assert_vulnerable if vulnerable else _assert_fixed)(result)


@pytest.mark.parametrize("version,vulnerable", [("1.3.0", True), ("1.3.1", False)])
async def test_cve_2024_37568_spki_pem_as_hmac_secret(tmp_path, version, vulnerable):
    """CVE-2024-37568 (GHSA-5357-c2jx-v7qh): Authlib < 1.3.1, "unless an algorithm is specified in a jwt.decode
    call, HMAC verification is allowed with any asymmetric public key": an application holding its RS256 key as
    SPKI PEM accepts HS256 keyed with those PEM bytes (RFC 8725 §2.1)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)
    result = await _python_verdict(tmp_path, version, "authlib", key, public, "RS256", "sig-confusion-spki-pem")
    (_assert_vulnerable if vulnerable else _assert_fixed)(result)


@pytest.mark.parametrize("version,vulnerable", [("2.10.0", True), ("2.10.1", False)])
async def test_cve_2024_53861_issuer_substring(tmp_path, version, vulnerable):
    """CVE-2024-53861 (GHSA-75c5-xw7c-p5pm): PyJWT 2.10.0 checked a string ``issuer`` with ``iss in issuer``,
    so a token whose iss is any substring of the expected issuer passed. RFC 9068 §4: the issuer identifier
    "MUST exactly match the value of the iss claim"."""
    secret = secrets.token_hex(32).encode()
    result = await _python_verdict(tmp_path, version, "hs256", secret, secret, "HS256", "iss-near-match",
                                  "sig-valid-hs256-control")
    (_assert_vulnerable if vulnerable else _assert_fixed)(result)


@pytest.mark.parametrize("version,vulnerable", [("2.11.0", True), ("2.12.0", False)])
async def test_cve_2026_32597_unknown_crit_extension(tmp_path, version, vulnerable):
    """CVE-2026-32597: PyJWT before 2.12.0 ignored ``crit``, so a token naming an extension it does not
    implement was accepted. RFC 7515 §4.1.11: "If any of the listed extension Header Parameters are not
    understood and supported by the recipient, then the JWS is invalid"."""
    secret = secrets.token_hex(32).encode()
    result = await _python_verdict(tmp_path, version, "hs256", secret, secret, "HS256", "sig-crit-unknown",
                                   "sig-valid-hs256-control")
    (_assert_vulnerable if vulnerable else _assert_fixed)(result)


@pytest.mark.parametrize("version,vulnerable", [("3.3.3", True), ("3.3.4", False)])
async def test_cve_2022_39227_json_compact_polyglot(tmp_path, version, vulnerable):
    """CVE-2022-39227 (GHSA-5p8v-58qm-c7fp): python-jwt < 3.3.4 split the token on dots to read its claims but
    let jwcrypto verify it, and jwcrypto accepted the JSON serialisation: a JSON object whose first key is
    ``header.FORGED.`` and whose ``payload`` is the signed one passes with forged claims. Draft 8725bis "JWT
    Format Confusion"; RFC 7515 §5.2: the signature must verify over the claims that are used."""
    secret = secrets.token_hex(32).encode()
    result = await _python_verdict(tmp_path, version, "python-jwt", secret, secret, "HS256",
                                  "sig-json-serialization-polyglot", "sig-valid-hs256-control", typ="JWT")
    (_assert_vulnerable if vulnerable else _assert_fixed)(result)


async def _node_verdict(app: str, package: str, version: str, args: list[str], target_of, scenario_id: str,
                        control_id: str, control_must_pass: bool = True):
    """Run ``scenario_id`` against node_rs.js serving ``app`` on the vendored ``package@version``."""
    app_dir = _installed(LIBS / f"node-{package}-{version}" / "node_modules").parent
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    cmd = ["node", str(LIBS / "node_rs.js"), str(LIBS / app), "--app-dir", str(app_dir), "--port", str(port),
           "--issuer", ISSUER, "--audience", base_url, *args]
    with _server(cmd, {}, port) as base:
        return await _verdict(target_of(base), scenario_id, control_id, control_must_pass)


@pytest.mark.parametrize("version,vulnerable", [("8.5.1", True), ("9.0.0", False)])
async def test_cve_2022_23540_alg_none_with_an_empty_key_lookup(tmp_path, version, vulnerable):
    """CVE-2022-23540 (GHSA-qwph-4952-7xr6): jsonwebtoken <= 8.5.1 ``jwt.verify()`` without ``algorithms``
    and with a falsy key "defaulting to the none algorithm for signature verification". An application that
    looks its HS256 key up by kid gets ``undefined`` for the exploit's header ``{"alg":"none","typ":"JWT"}``
    and accepts the unsigned token; RFC 9068 §4: the resource server "MUST reject any JWT in which the value of
    alg is none"."""
    key_set = tmp_path / "secrets.json"
    key_set.write_text(json.dumps({"hs256": [{"kid": "k1", "secret": secrets.token_hex(32), "created": 0,
                                              "retired": None}]}))
    result = await _node_verdict("jsonwebtoken_app.js", "jsonwebtoken", version, ["--key-set", str(key_set)],
                                 lambda base: _target(base, "HS256", secret_file=str(key_set)), "sig-alg-none",
                                 "sig-valid-hs256-control")
    (_assert_vulnerable if vulnerable else _assert_fixed)(result)


@pytest.mark.parametrize("version,vulnerable", [("0.10.0", True), ("0.11.0", False)])
async def test_cve_2018_0114_embedded_jwk(tmp_path, version, vulnerable):
    """CVE-2018-0114: node-jose < 0.11.0 verified a JWS with the public key in its own ``jwk`` header, so a
    token signed by any key that carries that key verified. RFC 8725 §3.10: the key used "MUST be
    established" by the verifier, not taken from the token."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pub = tmp_path / "public.pem"
    pub.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                  serialization.PublicFormat.SubjectPublicKeyInfo))
    private = _write_private(tmp_path / "private.pem", key)
    result = await _node_verdict("node_jose_app.js", "node-jose", version, ["--key-file", str(pub)],
                                 lambda base: _target(base, "RS256", private_key_file=private), "key-jwk-embedded",
                                 "sig-valid-rs256-control")
    (_assert_vulnerable if vulnerable else _assert_fixed)(result)


def _pkcs1_key(tmp_path: Path):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pub = tmp_path / "public-pkcs1.pem"
    pub.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.PKCS1))
    return key, pub


async def test_cve_2023_48223_forgery_accepted_while_valid_tokens_are_refused(tmp_path):
    """CVE-2023-48223 (GHSA-mvf2-f6gm-w987): fast-jwt < 3.3.2 did not recognise a PKCS#1 public key PEM and
    used it as an HMAC secret: the application refuses every valid RS256 token (its control fails) and accepts
    HS256 keyed with the PEM. A failed control must not hide the accepted forgery."""
    key, pub = _pkcs1_key(tmp_path)
    private = _write_private(tmp_path / "private.pem", key)
    result = await _node_verdict("fast_jwt_app.js", "fast-jwt", "3.3.1", ["--key-file", str(pub)],
                                 lambda base: _target(base, "RS256", private_key_file=private),
                                 "sig-confusion-pkcs1-pem", "sig-valid-rs256-control", control_must_pass=False)
    _assert_vulnerable(result)


def test_cve_2023_48223_fixed_version_refuses_the_key_at_start(tmp_path):
    """fast-jwt 3.3.2 recognises the PKCS#1 PEM as a public key it does not support: the application cannot
    start with it, so no token is ever verified with it as an HMAC secret."""
    app_dir = _installed(LIBS / "node-fast-jwt-3.3.2" / "node_modules").parent
    _key, pub = _pkcs1_key(tmp_path)
    r = subprocess.run(["node", str(LIBS / "node_rs.js"), str(LIBS / "fast_jwt_app.js"), "--app-dir", str(app_dir),
                        "--port", str(free_port()), "--issuer", ISSUER, "--audience", "http://a", "--key-file",
                        str(pub)], check=False, capture_output=True, text=True, timeout=30, cwd=ROOT)
    assert r.returncode != 0 and "FAST_JWT_INVALID_KEY" in r.stderr, r.stderr[-500:]
