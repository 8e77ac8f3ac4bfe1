"""Hypothesis fuzzing of resource servers: our HS256 server holds every property; a vulnerable one is
caught with a shrunk case and a curl command; the same seed gives the same run."""
from __future__ import annotations

import json
import secrets

from aiohttp.test_utils import TestServer
from hypothesis import given, settings

from harness import strategies
from harness.fuzz import fuzz
from harness.targets import profile_from_dict

from .conftest import free_port
from .support.vulnerable_rs import ISSUER, RSFlaws, create_rs, profile

BASE = {"iss": ISSUER, "sub": "johndoe", "aud": "http://a", "iat": 1, "exp": 2, "jti": "j", "scope": "me"}


@given(strategies.claim_sets(BASE))
@settings(max_examples=50, deadline=None)
def test_claim_sets_are_valid_by_rfc7519(claims):
    """claim_sets() only draws claim sets a conforming verifier accepts (times away from every boundary)."""
    assert all(k in claims for k in strategies.REQUIRED)
    assert claims["aud"] == "http://a" or "http://a" in claims["aud"]


async def _serve(flaws: RSFlaws, tmp_path):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    secret = secrets.token_hex(32)
    f = tmp_path / "secrets.json"
    f.write_text(json.dumps({"hs256": [{"kid": "k1", "secret": secret, "created": 0, "retired": None}]}))
    server = TestServer(create_rs(flaws, secret.encode(), "k1", base), host="127.0.0.1", port=port)
    await server.start_server()
    return server, profile_from_dict(profile(base, str(f), "HS256"))


async def test_secure_server_holds_every_property(tmp_path):
    """Never 5xx; accepted iff the oracle says valid; RFC 6750 refusals."""
    server, target = await _serve(RSFlaws(), tmp_path)
    try:
        result = await fuzz(target, examples=150, seed=1)
    finally:
        await server.close()
    assert result.ok, (result.problems, result.failure)
    assert result.examples >= 150


async def test_exp_ignored_is_found_shrunk_with_curl(tmp_path):
    """A server that ignores exp accepts an expired token: the property fails, with a curl command."""
    server, target = await _serve(RSFlaws(exp_ignored=True), tmp_path)
    try:
        result = await fuzz(target, examples=300, seed=2)
    finally:
        await server.close()
    assert not result.ok
    assert any("invalid token was accepted" in p for p in result.problems)
    assert result.curl.startswith("curl -i -H 'Authorization: Bearer ")


async def test_same_seed_same_run(tmp_path):
    """--seed makes the run reproducible: the same failure twice."""
    server, target = await _serve(RSFlaws(alg_none=True, exp_ignored=True), tmp_path)
    try:
        a = await fuzz(target, examples=200, seed=7)
        b = await fuzz(target, examples=200, seed=7)
    finally:
        await server.close()
    assert not a.ok and a.failure.why == b.failure.why and a.examples == b.examples
