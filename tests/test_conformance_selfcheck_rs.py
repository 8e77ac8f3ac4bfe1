"""Self-check of the resource-server catalog: each deliberately vulnerable server (tests/support/vulnerable_rs.py)
is caught by exactly the scenarios meant to catch it, and nothing else; the same server without flaws gets
zero findings (so the catalog neither misses a flaw nor cries wolf)."""
from __future__ import annotations

import json
import secrets

import pytest
from aiohttp.test_utils import TestServer

from conformance import CATALOG
from harness import forge, runner
from harness.targets import profile_from_dict

from .conftest import free_port
from .support.vulnerable_rs import RSFlaws, create_rs, profile

RS_CATALOG = [s for s in CATALOG if s.applies_to == "resource-server"]

CASES = {
    "secure": (RSFlaws(), "HS256", set()),
    "secure-rs256": (RSFlaws(), "RS256", set()),
    # alg none accepted: also with the old signature left on, and when a duplicate alg member says "none"
    "alg-none": (RSFlaws(alg_none=True), "HS256", {"sig-alg-none", "sig-alg-none-keep-sig", "claims-header-duplicate"}),
    # exp not verified: also exp = 0 (claims-type-confusion) and a duplicate expired exp (claims-duplicate-member);
    # exp of the wrong JSON type is still refused by the type check, so time-exp-type passes
    "exp-ignored": (RSFlaws(exp_ignored=True), "HS256",
                    {"time-exp-past", "time-exp-leeway", "time-exp-missing", "claims-type-confusion",
                     "claims-duplicate-member"}),
    # aud not verified: also aud = null/0/true (claims-type-confusion) and a duplicate foreign aud
    "aud-ignored": (RSFlaws(aud_ignored=True), "HS256",
                    {"aud-mismatch", "aud-array-nomatch", "aud-missing", "aud-near-match", "claims-type-confusion",
                     "claims-duplicate-member"}),
    "hs-public-key": (RSFlaws(hs_public_key=True), "RS256", {"sig-confusion-spki-pem"}),
    "kid-path": (RSFlaws(kid_path=True), "HS256", {"key-kid-traversal"}),
    # a scope that is never checked also lets the duplicate-scope probe of claims-duplicate-member through
    "scope-unchecked": (RSFlaws(scope_unchecked=True), "RS256",
                        {"scope-insufficient", "scope-boundary", "claims-duplicate-member"}),
    "typ-ignored": (RSFlaws(typ_ignored=True), "HS256", {"typ-values"}),
}


async def run_against(flaws: RSFlaws, algorithm: str, tmp_path):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    if algorithm == "HS256":
        secret = secrets.token_hex(32)
        key_file = tmp_path / "secrets.json"
        key_file.write_text(json.dumps({"hs256": [{"kid": "k1", "secret": secret, "created": 0, "retired": None}]}))
        key = secret.encode()
    else:
        key = forge.harness_rsa_key(5)
        key_file = tmp_path / "rs.pem"
        key_file.write_bytes(key.private_bytes(forge.serialization.Encoding.PEM,
                                               forge.serialization.PrivateFormat.PKCS8,
                                               forge.serialization.NoEncryption()))
    server = TestServer(create_rs(flaws, key, "k1", base), host="127.0.0.1", port=port)
    await server.start_server()
    try:
        target = profile_from_dict(profile(base, str(key_file), algorithm))
        return await runner.run([target], RS_CATALOG, jobs=8)
    finally:
        await server.close()


@pytest.mark.parametrize("case", list(CASES))
async def test_each_flaw_is_caught_by_exactly_its_scenarios(case, tmp_path):
    """Each vulnerable server fails exactly the scenarios written for its flaw; nothing errors."""
    flaws, algorithm, expected = CASES[case]
    report = await run_against(flaws, algorithm, tmp_path)
    failing = {r.id for r in report.results if r.verdict == "fail"}
    errors = {r.id: r.reason for r in report.results if r.verdict == "error"}
    assert errors == {}
    assert failing == expected, {r.id: r.problems[:2] for r in report.results if r.verdict == "fail"}
    if expected:
        assert report.exit_code() == 1
        finding = next(r for r in report.results if r.verdict == "fail")
        assert finding.evidence and finding.evidence[0]["response"]["status"] is not None
    else:
        assert report.exit_code() == 0


async def _run_with_wrong_secret(flaws: RSFlaws, tmp_path):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    key_file = tmp_path / "secrets.json"
    key_file.write_text(json.dumps({"hs256": [{"kid": "k1", "secret": "x" * 64, "created": 0, "retired": None}]}))
    # the server trusts another secret: every valid token of the profile is rejected
    server = TestServer(create_rs(flaws, b"y" * 64, "k1", base), host="127.0.0.1", port=port)
    await server.start_server()
    try:
        return await runner.run([profile_from_dict(profile(base, str(key_file), "HS256"))], RS_CATALOG, jobs=8)
    finally:
        await server.close()


async def test_controls_turn_rejections_into_errors_when_valid_tokens_fail(tmp_path):
    """A server that rejects everything is reported broken (control refused, attacks 'error'), not secure."""
    report = await _run_with_wrong_secret(RSFlaws(), tmp_path)
    by_id = {r.id: r for r in report.results}
    assert by_id["sig-valid-hs256-control"].verdict == "deviation"
    assert "a valid request was refused" in by_id["sig-valid-hs256-control"].problems[0]
    assert by_id["sig-alg-none"].verdict == "error"
    assert "control" in by_id["sig-alg-none"].reason
    assert by_id["time-exp-past"].verdict == "error"
    assert report.exit_code() == 1


async def test_a_failed_control_never_hides_an_accepted_forgery(tmp_path):
    """RFC 7518 §3.6: an Unsecured JWS MUST NOT be accepted as valid. A server that refuses valid tokens but
    accepts alg none is vulnerable: the forgery is reported as a failure, the other attacks stay errors."""
    report = await _run_with_wrong_secret(RSFlaws(alg_none=True), tmp_path)
    by_id = {r.id: r for r in report.results}
    assert by_id["sig-valid-hs256-control"].verdict == "deviation"
    assert by_id["sig-alg-none"].verdict == "fail"
    assert by_id["sig-alg-none"].problems[0].impact == "vulnerability"
    assert by_id["sig-alg-none"].severity == "critical"
    assert by_id["sig-null-signature"].verdict == "error"
    assert "control" in by_id["sig-null-signature"].reason
    assert by_id["aud-mismatch"].verdict == "error"
