"""The authorization-server kit (harness/askit.py): PKCE helpers, discovery, client authentication encoding,
capabilities, and a complete code flow against the flawless vulnerable_as server."""
from __future__ import annotations

import asyncio
import base64

import pytest
from aiohttp import web

from harness import askit
from harness.client import new_session

from .support.asharness import as_target, password_target
from .support.vulnerable_as import M2M_SECRET, Flaws, create_as, create_password_server


def test_rfc7636_appendix_b_vector():
    """RFC 7636 Appendix B: BASE64URL(SHA256(ASCII(dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk)))
    = E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM."""
    assert askit.s256(askit.RFC7636_VERIFIER) == askit.RFC7636_CHALLENGE
    assert askit.RFC7636_PAIR.method == "S256"


def test_new_verifiers_follow_the_abnf():
    """RFC 7636 §4.1: code-verifier = 43*128unreserved."""
    for n in (43, 64, 128):
        v = askit.new_verifier(n)
        assert len(v) == n and set(v) <= set(askit.UNRESERVED)
    assert askit.new_verifier() != askit.new_verifier()


def test_basic_auth_form_encodes_id_and_secret():
    """RFC 6749 §2.3.1: the client identifier and password are encoded with application/x-www-form-urlencoded
    before being used as the Basic user-id and password."""
    value = askit.basic_auth("a:b", "p@ss word")
    assert base64.b64decode(value.split()[1]).decode() == "a%3Ab:p%40ss%20word"


def test_metadata_urls_insert_the_well_known_segment():
    """RFC 8414 §3.1: the well-known URI is inserted between the host and the issuer's path."""
    assert askit.metadata_urls("https://as.example/tenant1") == [
        "https://as.example/.well-known/oauth-authorization-server/tenant1",
        "https://as.example/tenant1/.well-known/openid-configuration",
        "https://as.example/tenant1/.well-known/oauth-authorization-server"]


def test_capabilities_follow_the_profile():
    t = as_target("http://127.0.0.1:1", confidential=("m2m", "x"))
    assert {"authorization_code", "confidential_client", "multi_scope", "refresh_token"} <= askit.capabilities(t)
    assert "password_grant" not in askit.capabilities(t)
    assert "confidential_client" not in askit.capabilities(as_target("http://127.0.0.1:1", scope="me"))
    p = password_target("http://127.0.0.1:1", scope="me items")
    assert {"token_endpoint", "password_grant", "password_scopes"} <= askit.capabilities(p)
    assert "authorization_code" not in askit.capabilities(p)


async def test_discovery_falls_back_to_openid_configuration(aiohttp_server):
    """RFC 8414 §3 metadata first, then OpenID Connect Discovery §4 when the first is not there."""
    async def oidc(request):
        base = str(request.url.origin())
        return web.json_response({"issuer": base, "authorization_endpoint": base + "/a", "token_endpoint": base + "/t"})
    app = web.Application()
    app.router.add_get("/.well-known/openid-configuration", oidc)
    server = await aiohttp_server(app, host="127.0.0.1")
    base = str(server.make_url("")).rstrip("/")
    async with new_session() as session:
        kit = await askit.build_kit(as_target(base), session)
    assert kit.token_endpoint == base + "/t" and kit.metadata_observation.url.endswith("openid-configuration")


async def test_discovery_refuses_a_metadata_issuer_mismatch(aiohttp_server):
    """RFC 8414 §3.3: the issuer in the metadata MUST be identical to the issuer the client started from."""
    async def meta(request):
        return web.json_response({"issuer": "https://other.example", "authorization_endpoint": "x",
                                  "token_endpoint": "y"})
    app = web.Application()
    app.router.add_get("/.well-known/oauth-authorization-server", meta)
    server = await aiohttp_server(app, host="127.0.0.1")
    async with new_session() as session:
        with pytest.raises(askit.Unreachable, match="RFC 8414"):
            await askit.build_kit(as_target(str(server.make_url(""))), session)


async def test_unreachable_issuer_is_one_clear_error():
    from .conftest import free_port
    async with new_session(timeout=2) as session:
        with pytest.raises(askit.Unreachable, match="unreachable"):
            await askit.build_kit(as_target(f"http://127.0.0.1:{free_port()}"), session)


async def test_kit_runs_a_complete_code_flow_and_refresh(aiohttp_server):
    """A valid authorization request returns a code and the exact state (RFC 6749 §4.1.2); the code and
    verifier give tokens; the refresh token gives new ones; client_credentials works with Basic."""
    server = await aiohttp_server(create_as(Flaws()), host="127.0.0.1")
    target = as_target(str(server.make_url("")), confidential=("m2m", M2M_SECRET))
    async with new_session() as session:
        kit = await askit.build_kit(target, session)
        authz = await kit.authorize(state="exact-state~._-")
        assert authz.code and authz.walk.state == "exact-state~._-" and authz.walk.login_post is not None
        token = await kit.redeem(authz)
        assert token.status == 200 and token.json["token_type"] == "Bearer"
        again = await kit.authorize()            # the login session is reused: no login form this time
        assert again.code and again.walk.login_post is None and len(again.walk.steps) == 1
        refreshed = await kit.refresh(token.json["refresh_token"])
        assert refreshed.status == 200 and refreshed.json["refresh_token"] != token.json["refresh_token"]
        cc = await kit.client_credentials()
        assert cc.status == 200 and "refresh_token" not in cc.json
        assert (await kit.client_credentials(secret="wrong")).status == 401


async def test_kit_for_a_password_server_uses_its_token_endpoint(aiohttp_server):
    server = await aiohttp_server(create_password_server(), host="127.0.0.1")
    async with new_session() as session:
        kit = await askit.build_kit(password_target(str(server.make_url(""))), session)
        assert kit.is_password_server
        ok = await kit.password_grant()
        assert ok.status == 200 and ok.json["token_type"] == "bearer"
        with pytest.raises(askit.NotApplicable):
            await kit.authorize()


async def test_each_concurrent_scenario_has_its_own_browser(aiohttp_server):
    """Concurrent scenarios (--jobs) never share or clobber one interaction session: each scenario (the task
    the runner runs it in) signs in once in its own browser, its later flows reuse that session, and what one
    scenario does to its session (a replay that revokes the grant, say) cannot change another's verdict.
    ``stop_at_login`` never signs in."""
    app = create_as(Flaws())
    logins = []

    @web.middleware
    async def count(request, handler):
        if request.path == "/login":
            logins.append(request.method)
        return await handler(request)
    app.middlewares.append(count)
    server = await aiohttp_server(app, host="127.0.0.1")
    async with new_session() as session:
        kit = await askit.build_kit(as_target(str(server.make_url(""))), session)
        page = await kit.authorize(stop_at_login=True, fresh=True)
        assert not page.redirected and page.walk.stopped.startswith("the login page") and logins == []
        async def scenario(i):
            return await kit.authorize(label=f"s{i}: first"), await kit.authorize(label=f"s{i}: second")
        results = await asyncio.gather(*(scenario(i) for i in range(4)))
        assert all(a.code and b.code for a, b in results)
        assert logins == ["POST"] * 4                                 # one sign-in per scenario
        assert all(a.walk.login_post is not None and b.walk.login_post is None for a, b in results)
        calls = []

        async def make():
            calls.append(1)
            await asyncio.sleep(0.01)
            return "pages"
        assert await asyncio.gather(kit.shared("k", make), kit.shared("k", make)) == ["pages", "pages"]
        assert calls == [1]


# -- grading: what the target did decides the impact ---------------------------------------------------------
def _obs(status, *, location=None, json=None, request_headers=None, headers=None, sent=None,
         registered="http://localhost:8080/callback"):
    from harness.aschecks import AuthzObservation
    hdrs = dict(headers or {})
    if location:
        hdrs["Location"] = location
    return AuthzObservation("probe", "GET", "http://as/authorize", dict(request_headers or {}), None, status, hdrs, "",
                            json=json, sent_redirect_uri=sent, registered_redirect_uri=registered)


def test_an_error_redirect_to_the_registered_uri_is_allowed_for_an_invalid_redirect_uri():
    """RFC 6749 §4.1.2.1: the AS "MUST NOT automatically redirect the user-agent to the invalid redirection
    URI": an error page or an error redirect to the REGISTERED URI passes; a code or an error sent to the
    invalid URI is a vulnerability."""
    from harness.aschecks import expect_no_redirect
    from harness.scenario import impact_of
    check = expect_no_redirect()
    attacker = "https://attacker.example/cb"
    assert check(_obs(400, sent=attacker)) == []
    assert check(_obs(302, location="http://localhost:8080/callback?error=invalid_request", sent=attacker)) == []
    for loc in (f"{attacker}?code=abc", f"{attacker}?error=invalid_request"):
        problems = check(_obs(302, location=loc, sent=attacker))
        assert [impact_of(p) for p in problems] == ["vulnerability"]
    problems = check(_obs(302, location="http://localhost:8080/callback?code=abc", sent=attacker))
    assert [(impact_of(p), p.keyword) for p in problems] == [("deviation", "MUST")]


def test_a_401_without_challenge_is_a_deviation_only_when_the_client_used_the_authorization_header():
    """RFC 6749 §5.2: "If the client attempted to authenticate via the "Authorization" request header field,
    the authorization server MUST respond with an HTTP 401 (Unauthorized) status code and MUST include the
    WWW-Authenticate response header field matching the authentication scheme used by the client." A refusal
    is never a vulnerability; a token issued is."""
    from harness.aschecks import expect_error
    from harness.scenario import impact_of
    check = expect_error((400, 401), "invalid_client")
    refused = {"error": "invalid_client"}
    assert check(_obs(401, json=refused)) == []
    problems = check(_obs(401, json=refused, request_headers={"Authorization": "Basic eDp5"}))
    assert [(impact_of(p), p.keyword) for p in problems] == [("deviation", "MUST")] and "RFC 6749 §5.2" in problems[0].rule
    ok = check(_obs(401, json=refused, request_headers={"Authorization": "Basic eDp5"},
                    headers={"WWW-Authenticate": 'Basic realm="as"'}))
    assert ok == []
    assert [impact_of(p) for p in check(_obs(400, json={"error": "invalid_request"}))] == ["deviation"]
    assert [impact_of(p) for p in check(_obs(200, json={"access_token": "t", "token_type": "Bearer"}))] == [
        "vulnerability"]


def test_no_store_is_required_and_pragma_is_not():
    """RFC 6749 §5.1: Cache-Control: no-store on responses with tokens (MUST); the Pragma: no-cache of the same
    sentence is obsolete (RFC 9111 §5.4) and not checked."""
    from harness.aschecks import expect_no_store
    from harness.scenario import impact_of
    assert expect_no_store()(_obs(200, headers={"Cache-Control": "no-store"})) == []
    problems = expect_no_store()(_obs(200, headers={"Cache-Control": "max-age=60", "Pragma": "no-cache"}))
    assert [(impact_of(p), p.keyword) for p in problems] == [("deviation", "MUST")]
