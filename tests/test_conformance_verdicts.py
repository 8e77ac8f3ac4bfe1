"""The verdict model of the resource-server half: a finding says what the target did.

An ACCEPTED probe is a vulnerability; a refusal in another form than the RFC prescribes is a deviation with the
keyword of the sentence it breaks (RFC 6750 §3: the challenge MUST be there, its error attribute SHOULD; RFC 9068
§4 makes invalid_token a MUST for RFC 9068 resource servers); a 5xx on bad input is a robustness deviation.
The nouns are judged on observations of real responses (a real aiohttp server answering as told), and the runner
on real targets (tests/support/vulnerable_rs.py).
"""
from __future__ import annotations

import json
import secrets

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

import conformance
from conformance import CATALOG
from harness import checks, runner
from harness.client import send
from harness.mutations import rs
from harness.scenario import Probe
from harness.targets import profile_from_dict

from .conftest import free_port
from .support.vulnerable_rs import RSFlaws, create_rs, profile


async def observe(status: int, www_authenticate: str | None = None, body: str = "{}"):
    """A real HTTP exchange with a server that answers ``status`` and this challenge."""
    async def handler(request: web.Request) -> web.Response:
        headers = {"WWW-Authenticate": www_authenticate} if www_authenticate else {}
        return web.Response(status=status, text=body, headers=headers, content_type="application/json")
    app = web.Application()
    app.router.add_get("/r", handler)
    server = TestServer(app, host="127.0.0.1", port=free_port())
    await server.start_server()
    try:
        import aiohttp
        async with aiohttp.ClientSession() as session:
            return await send(session, "GET", str(server.make_url("/r")), label="probe")
    finally:
        await server.close()


async def test_accepted_forged_token_is_a_vulnerability():
    """RFC 6750 §3.1 / RFC 9068 §4: an invalid token is refused; a 200 means the attack got through."""
    [p] = checks.invalid_token(await observe(200))
    assert p.impact == "vulnerability" and p.startswith("status 200")


async def test_bare_bearer_challenge_is_a_should_deviation():
    """RFC 6750 §3: "the resource server SHOULD include the error attribute": a bare challenge is info."""
    [p] = checks.invalid_token(await observe(401, "Bearer"))
    assert (p.impact, p.keyword, p.rule) == ("deviation", "SHOULD", checks.ERROR_RULE)
    strict = p.strictly()
    assert (strict.keyword, strict.rule) == ("MUST", checks.RFC9068_ERROR_RULE)


async def test_missing_challenge_is_a_must_deviation():
    """RFC 6750 §3: the resource server MUST include the WWW-Authenticate response header field."""
    [p] = checks.invalid_token(await observe(401))
    assert (p.impact, p.keyword, p.rule) == ("deviation", "MUST", checks.CHALLENGE_RULE)


async def test_other_status_is_a_should_deviation_and_a_5xx_a_robustness_one():
    """RFC 6750 §3.1: invalid_token "SHOULD respond with the HTTP 401"; a 5xx refuses nothing on purpose."""
    got = checks.invalid_token(await observe(403, 'Bearer error="invalid_token"'))
    assert [(p.impact, p.keyword) for p in got] == [("deviation", "SHOULD")]
    [p] = checks.invalid_token(await observe(500, None, "oops"))
    assert (p.impact, p.rule) == ("deviation", checks.ROBUSTNESS_RULE)


async def test_conformant_refusal_has_no_problem():
    """401 with exactly the invalid_token challenge: nothing to report."""
    assert checks.invalid_token(await observe(401, 'Bearer realm="x", error="invalid_token"')) == []


async def test_insufficient_scope_without_scope_attribute_passes():
    """RFC 6750 §3.1: the server "MAY include the scope attribute": its absence is no finding."""
    assert checks.insufficient_scope("items")(await observe(403, 'Bearer error="insufficient_scope"')) == []


async def test_lenient_parser_accepting_the_valid_token_is_a_deviation():
    """The valid token in a malformed wrapping, accepted: no forgery, a deviation from the rule given."""
    [p] = checks.lenient("RFC 7515 §5.2")(await observe(200))
    assert (p.impact, p.keyword, p.rule) == ("deviation", "MUST", "RFC 7515 §5.2")


async def _run(flaws: RSFlaws, scenarios, tmp_path, **kw):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    secret = secrets.token_hex(32)
    key_file = tmp_path / "secrets.json"
    key_file.write_text(json.dumps({"SECRET_KEY": secret}))
    server = TestServer(create_rs(flaws, secret.encode(), "k1", base), host="127.0.0.1", port=port)
    await server.start_server()
    try:
        return await runner.run([profile_from_dict(profile(base, str(key_file), "HS256"))], scenarios, **kw)
    finally:
        await server.close()


def _slow_scenario():
    return rs(id="sig-slow-example", summary="A scenario that waits minutes.", refs=("RFC 6749 §4.1.2",),
              severity="low", mutate=lambda kit: [Probe("T0", kit.mint(), expect=checks.ok)], needs=("mint",),
              tags=("slow",))


async def test_slow_scenarios_run_only_when_asked(tmp_path):
    """Scenarios tagged slow are not-applicable ("slow: run with --slow") unless the run asks for them."""
    controls = [s for s in CATALOG if s.id == "sig-valid-hs256-control"]
    report = await _run(RSFlaws(), controls + [_slow_scenario()], tmp_path)
    result = next(r for r in report.results if r.id == "sig-slow-example")
    assert (result.verdict, result.reason) == ("not-applicable", "slow: run with --slow")
    report = await _run(RSFlaws(), controls + [_slow_scenario()], tmp_path, slow=True)
    assert next(r for r in report.results if r.id == "sig-slow-example").verdict == "pass"


def test_list_marks_slow_scenarios(capsys):
    """--list shows each slow scenario with a slow mark."""
    from cli.conformance import list_catalog
    list_catalog([_slow_scenario()], {})
    out = capsys.readouterr().out
    assert out.splitlines()[0].split()[3] == "slow" and "1 marked slow" in out


def test_a_missing_catalog_family_is_an_error():
    """The catalog never silently shrinks: a family module that does not exist raises ImportError."""
    with pytest.raises(ImportError, match="catalog family 'no_such_family' is missing"):
        conformance._load("no_such_family")


def bare_bearer_rs(secret: bytes, audience: str) -> web.Application:
    """A resource server that verifies with PyJWT and refuses with a bare ``WWW-Authenticate: Bearer``."""
    import jwt

    async def me(request: web.Request) -> web.Response:
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        try:
            claims = jwt.decode(token, secret, algorithms=["HS256"], audience=audience, issuer="http://issuer.test")
        except jwt.PyJWTError:
            return web.json_response({"detail": "Could not validate credentials"}, status=401,
                                     headers={"WWW-Authenticate": "Bearer"})
        return web.json_response({"sub": claims["sub"]})
    app = web.Application()
    app.router.add_get("/users/me", me)
    return app


@pytest.mark.parametrize("rfc9068, severity", [(False, "info"), (True, "low")])
async def test_bare_challenge_is_info_unless_the_target_declares_rfc9068(tmp_path, rfc9068, severity):
    """RFC 6750 §3 (SHOULD include the error attribute) vs RFC 9068 §4 ("the ... response MUST include the error
    code invalid_token"): the same refused alg-none token is an info deviation, or a low one for an RFC 9068 RS."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    secret = secrets.token_hex(32)
    (tmp_path / "s").write_text(secret)
    server = TestServer(bare_bearer_rs(secret.encode(), base), host="127.0.0.1", port=port)
    await server.start_server()
    data = {"name": "bare", "kind": "resource-server", "base_url": base,
            "resource": {"endpoint": "/users/me", "algorithm": "HS256", "issuer": "http://issuer.test",
                         "audience": base, "subject": "johndoe", "rfc9068": rfc9068, "secret_file": str(tmp_path / "s")}}
    wanted = [s for s in CATALOG if s.id in ("sig-valid-hs256-control", "sig-alg-none")]
    try:
        report = await runner.run([profile_from_dict(data)], wanted, jobs=2)
    finally:
        await server.close()
    by_id = {r.id: r for r in report.results}
    assert by_id["sig-valid-hs256-control"].verdict == "pass"
    result = by_id["sig-alg-none"]
    assert (result.verdict, result.severity) == ("deviation", severity)
    assert result.problems[0].rule == (checks.RFC9068_ERROR_RULE if rfc9068 else checks.ERROR_RULE)
    assert report.exit_code() == (1 if rfc9068 else 0)  # --fail-on low: info deviations do not fail the run


@pytest.mark.parametrize("scenario", [s for s in CATALOG if s.applies_to == "resource-server"], ids=lambda s: s.id)
def test_every_rs_expectation_names_its_rfc_sentence_and_keyword(scenario):
    """Each expectation rests on a sentence of an RFC (or a CVE) and its keyword decides the verdict."""
    import re
    assert re.search(r"RFC \d+ (§|Appendix )|CVE-\d{4}-\d+|draft-8725bis", scenario.rule), scenario.rule
    assert re.search(r"\b(MUST|SHOULD|MAY|REQUIRED|no rule|either answer)\b", scenario.rule) or \
        scenario.control, scenario.rule


def test_published_hmac_secrets_are_in_the_weak_key_list():
    """RFC 8725 §3.5: human-memorizable passwords MUST NOT be the HMAC key; apps copy published secrets verbatim
    (FastAPI's tutorial, jwt.io's default, library READMEs), so sig-hs-weak-key tries them all."""
    from conformance.sig import PUBLISHED_SECRETS, WEAK_SECRETS
    for published in ("09d25e094faa6ca2556c818166b7a9563b93f7099f6f0f4caa6cf63b88e8d3e7", "your-256-bit-secret",
                      "super-secret", "shhhhh", "example_key"):
        assert published in PUBLISHED_SECRETS and published in WEAK_SECRETS
    assert len(set(WEAK_SECRETS)) == len(WEAK_SECRETS)
