"""Hypothesis fuzzing of resource servers (``run.py fuzz --target``): the oracle models the profile and the
RFCs only, so correct servers pass thousands of examples; a server with one flaw fails exactly the
properties that name that flaw, each shrunk and with a curl reproduction."""
from __future__ import annotations

import asyncio
import json
import secrets
import sys
import time

import pytest
from aiohttp.test_utils import TestServer
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import given, settings

from cli.conformance import our_servers
from harness import strategies
from harness.fuzz import Oracle
from harness.fuzzrun import fuzz
from harness.rskit import RSKit
from harness.targets import profile_from_dict

from .conftest import ROOT, free_port
from .support.flawed_rs import create_app, profile

ISSUER = "https://issuer.example"
BASE = {"iss": ISSUER, "sub": "johndoe", "aud": "http://a", "iat": 1, "exp": 2, "jti": "j", "scope": "me"}


@given(strategies.claim_sets(BASE))
@settings(max_examples=50, deadline=None)
def test_claim_sets_are_valid_by_rfc7519(claims):
    """claim_sets() only draws what RFC 7519 §4.1.3-§4.1.6 accept: "the current date/time MUST be before
    the expiration date/time listed in the exp claim"; aud a string or an array containing the audience."""
    now = time.time()
    assert claims["exp"] > now + 60 and claims.get("nbf", 0) < now - 60
    assert claims["aud"] == "http://a" or "http://a" in claims["aud"]


def _oracle(tmp_path, algorithm: str = "RS256", **changes) -> Oracle:
    key_file = tmp_path / "key"
    if algorithm == "RS256":
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
    else:
        key_file.write_text(secrets.token_hex(32))
    data = profile("http://127.0.0.1:9", str(key_file), algorithm, ISSUER)
    data["resource"] = {k: v for k, v in {**data["resource"], **changes}.items() if v is not None}
    target = profile_from_dict(data)
    kit = RSKit(target, None, None)  # type: ignore[arg-type] - the oracle never sends
    kit.kid = "k1"
    kit.capabilities.add("jwt")
    return Oracle.of(kit)


def test_kid_is_a_hint_either_answer_is_fine(tmp_path):
    """RFC 7515 §4.1.4: "The kid (key ID) Header Parameter is a hint indicating which key was used to secure
    the JWS": a token signed by the one trusted key with kid null, absent or unknown may be accepted or
    refused; with the trusted kid it must be accepted."""
    o = _oracle(tmp_path)
    claims = {**o.base_claims, "exp": int(time.time()) + 300}
    assert o.judge_token(o.base_header, claims, True)[0] is True
    for header in ({**o.base_header, "kid": None}, {k: v for k, v in o.base_header.items() if k != "kid"},
                   {**o.base_header, "kid": "unknown"}):
        assert o.judge_token(header, claims, True)[0] is None, header


def test_open_questions_are_either_answer(tmp_path):
    """RFC 7519 §4.1.6 sets no rule for an iat in the future; §4 lets unknown claims be ignored "unless
    otherwise required by the application"; §2 allows non-integer NumericDates: either answer passes. An
    exp in the past beyond the leeway must be refused (§4.1.4 MUST)."""
    o = _oracle(tmp_path)
    now = int(time.time())
    claims = {**o.base_claims, "exp": now + 300}
    assert o.judge_token(o.base_header, {**claims, "iat": now + 3600}, True)[0] is None
    assert o.judge_token(o.base_header, {**claims, "roles": ["admin"]}, True)[0] is None
    assert o.judge_token(o.base_header, {**claims, "exp": now + 300.5}, True)[0] is None
    assert o.judge_token(o.base_header, {**claims, "exp": now - 3600}, True)[0] is False
    assert o.judge_token(o.base_header, {**claims, "exp": str(now - 3600)}, True)[0] is False


def test_missing_exp_is_refused_only_by_rfc9068_servers(tmp_path):
    """RFC 9068 §4: "The current time MUST be before the time represented by the exp claim", so an RFC 9068
    resource server (``rfc9068 = true``) must refuse a token without exp; for any other target RFC 7519 §4.1.4
    makes exp OPTIONAL and either answer passes."""
    for rfc9068, expected in ((True, False), (False, None)):
        o = _oracle(tmp_path, rfc9068=rfc9068)
        claims = {k: v for k, v in o.base_claims.items() if k != "exp"}
        assert o.judge_token(o.base_header, claims, True)[0] is expected, rfc9068


async def _flawed(tmp_path, flaw: str | None, algorithm: str = "HS256"):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    key_file = tmp_path / f"key-{flaw}"
    if algorithm == "HS256":
        secret = secrets.token_hex(32)
        key_file.write_text(secret)
        key = secret.encode()
    else:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
    server = TestServer(create_app(key, algorithm, ISSUER, base, flaw), host="127.0.0.1", port=port)
    await server.start_server()
    return server, profile(base, str(key_file), algorithm, ISSUER)


# flaw -> (the property groups run, the properties that must fail)
FLAWED = {"exp": (("exp", "nbf"), {"exp:ignored", "exp:missing", "exp:type"}),
          "aud": (("aud", "iss"), {"aud:wrong", "aud:missing"}),
          "leeway": (("exp", "nbf"), {"exp:leeway", "nbf:leeway"}),
          "iss": (("iss", "aud"), {"iss:wrong", "iss:missing"}),
          "nbf": (("nbf", "exp"), {"nbf:ignored", "nbf:type"})}


@pytest.mark.parametrize("flaw", sorted(FLAWED))
async def test_one_flaw_fails_the_properties_that_name_it(tmp_path, flaw):
    """RFC 7519 §4.1.3-§4.1.5 and RFC 9068 §4 (each a MUST): a server that skips one check fails the
    property naming that claim, shrunk, with a curl command; the neighbouring properties hold."""
    groups, expected = FLAWED[flaw]
    server, data = await _flawed(tmp_path, flaw)
    try:
        report = await fuzz(profile_from_dict(data), examples=250, seed=3, only=groups)
    finally:
        await server.close()
    failed = {r.prop.key for r in report.failures}
    assert failed == expected and not report.errors, [(r.prop.key, r.problems, r.error) for r in report.results
                                                      if r.verdict != "pass"]
    for r in report.failures:
        claim = r.prop.key.split(":")[0]
        assert claim in r.prop.title or "leeway" in r.prop.title
        assert r.prop.impact == "vulnerability" and r.case.expected is False
        assert r.curl.startswith("curl -i -H 'Authorization: Bearer ey")
    assert report.exit_code() == 1


async def test_refusal_without_challenge_is_a_deviation(tmp_path):
    """RFC 6750 §3: "the resource server MUST include the HTTP WWW-Authenticate response header field": a
    server that refuses correctly but without the challenge fails the refusal properties as a deviation (low),
    and no vulnerability property."""
    server, data = await _flawed(tmp_path, "challenge")
    try:
        report = await fuzz(profile_from_dict(data), examples=150, seed=6, only=("refusal", "exp", "valid"))
    finally:
        await server.close()
    failed = {r.prop.key: r for r in report.failures}
    assert set(failed) == {"refusal:challenge", "refusal:error"}, [(r.prop.key, r.problems) for r in report.failures]
    assert failed["refusal:challenge"].severity == "low" and failed["refusal:error"].severity == "info"
    assert all(r.prop.impact == "deviation" for r in report.failures)
    assert report.exit_code() == 1 and report.exit_code("medium") == 0


async def test_careful_rs256_server_holds_every_property(tmp_path):
    """The same application without a flaw, on RS256: every property holds, exit 0."""
    server, data = await _flawed(tmp_path, None, "RS256")
    try:
        report = await fuzz(profile_from_dict(data), examples=400, seed=4)
    finally:
        await server.close()
    assert report.ok, [(r.prop.key, r.problems, r.error, r.case) for r in report.results if r.verdict != "pass"]
    assert report.exit_code() == 0 and report.examples >= 400


async def test_huge_leeway_is_shrunk_to_the_boundary(tmp_path):
    """Shrinking: a one-day leeway is shown with the smallest expiry the profile's leeway already refuses
    (RFC 7519 §4.1.4 "usually no more than a few minutes")."""
    server, data = await _flawed(tmp_path, "leeway")
    try:
        report = await fuzz(profile_from_dict(data), examples=300, seed=5, only=("exp:leeway",))
    finally:
        await server.close()
    (r,) = report.failures
    past = time.time() - r.case.claims["exp"]
    assert 300 + 120 - 5 <= past <= 300 + 120 + 60, past


async def test_same_seed_same_run(tmp_path):
    """--seed makes the run reproducible: the same properties fail after the same number of examples."""
    server, data = await _flawed(tmp_path, "exp")
    try:
        a = await fuzz(profile_from_dict(data), examples=200, seed=7, only=("exp",))
        b = await fuzz(profile_from_dict(data), examples=200, seed=7, only=("exp",))
    finally:
        await server.close()
    assert [(r.prop.key, r.verdict, r.examples) for r in a.results] == \
        [(r.prop.key, r.verdict, r.examples) for r in b.results]


@pytest.mark.slow
@pytest.mark.parametrize("names", [("oauth-proxy", "backend4"), ("backend2",)])
async def test_our_servers_hold_every_property_over_2000_examples(names):
    """Our RS256 server behind a real oauth-proxy and our HS256 server: at least 2,000 examples, every
    property holds, exit code 0."""
    with our_servers(list(names)) as servers:
        target = servers.load_profiles()[-1]
        report = await fuzz(target, examples=2000, seed=0)
    assert report.ok, [(r.prop.key, r.problems, r.error, r.case) for r in report.results if r.verdict != "pass"]
    assert report.exit_code() == 0 and report.examples >= 2000


async def test_cli_reports_every_failure_as_json_with_progress_on_stderr(tmp_path):
    """``run.py fuzz --target FILE --format json``: exit 1, one entry per property, progress on stderr."""
    server, data = await _flawed(tmp_path, "aud")
    res = data["resource"]
    toml = tmp_path / "flawed.toml"
    toml.write_text(f'name = "flawed-rs"\nkind = "resource-server"\nbase_url = "{data["base_url"]}"\n[resource]\n'
                    + "".join(f"{k} = {json.dumps(v)}\n" for k, v in res.items()))
    try:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, str(ROOT / "run.py"), "fuzz", "--target", str(toml), "--format", "json", "--examples",
            "200", "--only", "aud", "--only", "exp", cwd=ROOT, env={"NO_COLOR": "1", "PATH": "/usr/bin:/bin"},
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await asyncio.wait_for(proc.communicate(), 120)
    finally:
        await server.close()
    assert proc.returncode == 1, err.decode()[-2000:]
    doc = json.loads(out)
    verdicts = {p["key"]: p["verdict"] for p in doc["properties"]}
    assert verdicts == {"exp:missing": "pass", "exp:ignored": "pass", "exp:leeway": "pass", "exp:type": "pass",
                        "aud:wrong": "fail", "aud:missing": "fail"}
    failure = next(p for p in doc["properties"] if p["key"] == "aud:wrong")
    assert failure["impact"] == "vulnerability" and failure["curl"].startswith("curl -i -H ")
    assert "[fuzz] aud:wrong:" in err.decode() and "\x1b[" not in out.decode() + err.decode()


def test_cli_usage_errors_exit_2(tmp_path):
    """A missing profile file is a configuration error: exit 2 with a one-line message."""
    import subprocess
    r = subprocess.run([sys.executable, str(ROOT / "run.py"), "fuzz", "--target", str(tmp_path / "none.toml")],
                       check=False, capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert r.returncode == 2 and "no such profile file" in r.stderr
