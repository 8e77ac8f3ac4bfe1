"""Self-check of the authorization-server families: each family, replayed against deliberately vulnerable
servers (tests/support/vulnerable_as.py), finds exactly the scenarios meant to catch each flaw, graded by what
the server did (F: the attack got through, a vulnerability; D: refused, or a rule broken without an attack, a
deviation), and nothing else; against the flawless variant it finds nothing (so a finding is never noise)."""
from __future__ import annotations

import pytest

from conformance import hygiene_as, pkce, redirect, refresh, token_endpoint
from harness.client import new_session

from .conftest import live_server

F, D = "fail", "deviation"
from .support.asharness import as_target, errors, failing, findings, judge, password_target
from .support.vulnerable_as import M2M_SECRET, Flaws, PasswordFlaws, create_as, create_password_server


async def verdicts_for(aiohttp_server, family, flaws: Flaws, *, slow: bool = False, code_ttl: float = 60.0, **kw):
    server = await aiohttp_server(create_as(flaws, consent=kw.pop("consent", False), code_ttl=code_ttl),
                                  host="127.0.0.1")
    target = as_target(str(server.make_url("/")), confidential=("m2m", M2M_SECRET), **kw)
    scenarios = [s for s in family.SCENARIOS if ("slow" in s.tags) == slow]
    async with new_session() as session:
        return await judge(scenarios, target, session)


# -- PKCE ----------------------------------------------------------------------------------------------------
PKCE_CASES = [
    (Flaws(), {}),
    (Flaws(pkce_optional=True), {"pkce-required-public": D, "pkce-downgrade": F}),
    (Flaws(plain_accepted=True), {"pkce-plain-rejected": D}),
    (Flaws(verifier_ignored=True), {"pkce-verifier-missing": F, "pkce-verifier-wrong": F, "pkce-cross-code": F, "pkce-verifier-format": D}),
    (Flaws(verifier_optional=True), {"pkce-verifier-missing": F}),
    (Flaws(verifier_format_unchecked=True), {"pkce-verifier-format": D}),
    (Flaws(challenge_format_unchecked=True), {"pkce-challenge-format": D}),
    (Flaws(method_lenient=True), {"pkce-method-unknown": D, "pkce-method-default-plain": D}),
    (Flaws(no_pkce_metadata=True), {"pkce-metadata": D}),
]


@pytest.mark.parametrize("flaws,expected", PKCE_CASES,
                         ids=[next((k for k, v in vars(f).items() if v), "secure") for f, _ in PKCE_CASES])
async def test_pkce_family_detects_exactly_its_flaw(aiohttp_server, flaws, expected):
    """RFC 7636 §4.6: the server MUST verify code_verifier against the stored challenge; RFC 9700 §2.1.1:
    "Authorization servers MUST support PKCE" and "MUST enforce the correct usage of code_verifier"."""
    verdicts = await verdicts_for(aiohttp_server, pkce, flaws)
    assert errors(verdicts) == {}
    assert findings(verdicts) == expected, {k: v.problems for k, v in verdicts.items() if k in failing(verdicts)}


async def test_pkce_family_works_through_a_consent_page(aiohttp_server):
    """The login driver "submits any consent form that follows": the flawless server behind a consent page
    still gets zero findings (the controls pass, so the login and consent were driven for real)."""
    verdicts = await verdicts_for(aiohttp_server, pkce, Flaws(), consent=True)
    assert errors(verdicts) == {}
    assert findings(verdicts) == {}
    assert verdicts["pkce-rfc7636-vector"].verdict == "pass"


# -- code flow and redirect URI ------------------------------------------------------------------------------
REDIRECT_CASES = [
    (Flaws(), {}),
    (Flaws(redirect_prefix=True), {"redir-query-added": F, "redir-lookalike": F, "redir-fragment": F}),
    (Flaws(state_dropped=True), {"authz-state-echo": D, "authz-state-long": D, "authz-error-redirect": D}),
    (Flaws(state_truncated=True), {"authz-state-long": D}),
    (Flaws(duplicates_first_wins=True), {"authz-duplicate-param": D}),
    (Flaws(unknown_param_rejected=True), {"authz-unknown-param": D}),
    (Flaws(error_page_for_request_errors=True), {"authz-error-redirect": D}),
    (Flaws(csrf_unchecked=True), {"authz-csrf-consent": F}),
    (Flaws(login_307=True), {"authz-no-307": D}),
    (Flaws(iss_missing=True), {"authz-iss-param": D}),
]


@pytest.mark.parametrize("flaws,expected", REDIRECT_CASES,
                         ids=[next((k for k, v in vars(f).items() if v), "secure") for f, _ in REDIRECT_CASES])
async def test_redirect_family_detects_exactly_its_flaw(aiohttp_server, flaws, expected):
    """RFC 6749 §4.1.2.1: the AS "MUST NOT automatically redirect the user-agent to the invalid redirection
    URI"; RFC 9700 §4.1.3: redirect URIs are compared by exact string matching; RFC 6749 §4.1.2: state is
    "the exact value received from the client"."""
    verdicts = await verdicts_for(aiohttp_server, redirect, flaws)
    assert errors(verdicts) == {}
    assert findings(verdicts) == expected, {k: v.problems for k, v in verdicts.items() if k in failing(verdicts)}
    assert verdicts["redir-query-mismatch"].verdict == "not-applicable"   # the profile's URI has no query


async def test_redirect_family_with_a_consent_page_and_a_query_in_the_registered_uri(aiohttp_server):
    """Consent forms carry their own CSRF token; a registered redirect URI with a query must match exactly
    (OpenID conformance oidcc-redirect-uri-query-mismatch / -query-OK)."""
    import tests.support.vulnerable_as as v
    old = v.CLIENTS["frontend"]["redirect_uris"]
    v.CLIENTS["frontend"]["redirect_uris"] = old + ("http://localhost:8080/cb?a=1",)
    try:
        verdicts = await verdicts_for(aiohttp_server, redirect, Flaws(), consent=True,
                                      redirect_uri="http://localhost:8080/cb?a=1")
        assert errors(verdicts) == {} and findings(verdicts) == {}
        assert verdicts["redir-query-mismatch"].verdict == "pass"
        verdicts = await verdicts_for(aiohttp_server, redirect, Flaws(csrf_unchecked=True, redirect_prefix=True),
                                      consent=True, redirect_uri="http://localhost:8080/cb?a=1")
        assert findings(verdicts) == {"authz-csrf-consent": F, "redir-query-mismatch": F, "redir-query-added": F,
                                      "redir-lookalike": F, "redir-fragment": F}
    finally:
        v.CLIENTS["frontend"]["redirect_uris"] = old


# -- token endpoint ------------------------------------------------------------------------------------------
TOKEN_CASES = [
    (Flaws(), {}),
    (Flaws(code_replay=True), {"tok-code-reuse": F, "tok-code-reuse-revokes": F, "tok-code-race": F}),
    (Flaws(code_reuse_no_revoke=True), {"tok-code-reuse-revokes": D}),   # SHOULD revoke
    (Flaws(code_race=True), {"tok-code-race": F}),
    (Flaws(code_not_client_bound=True), {"tok-code-wrong-client": F}),
    (Flaws(token_redirect_unchecked=True), {"tok-redirect-mismatch": F}),
    (Flaws(token_redirect_optional=True), {"tok-redirect-omitted": D}),
    (Flaws(garbage_code_500=True), {"tok-code-garbage": D}),
    (Flaws(client_auth_optional=True), {"tok-client-auth-missing": F}),
    # RFC 6749 §5.2 requires the challenge only where the client authenticated with the Authorization header
    (Flaws(basic_no_challenge=True), {"tok-client-auth-bad-basic": D}),
    (Flaws(unsupported_grant_as_invalid_request=True), {"tok-grant-unsupported": D}),
    (Flaws(password_grant=True), {"tok-password-bcp": D, "tok-grant-unauthorized": F}),
    (Flaws(cc_public_allowed=True), {"tok-cc-public-client": F}),
    (Flaws(cc_refresh_token=True), {"tok-cc-no-refresh": D}),
    (Flaws(scope_unchecked=True), {"tok-scope-invalid": F}),
    (Flaws(token_get=True), {"tok-get": F}),
    (Flaws(token_duplicates_first_wins=True), {"tok-duplicate-param": D}),
    (Flaws(error_text_plain=True), {"tok-error-shape": D}),
    (Flaws(no_expires_in=True), {"tok-success-shape": D}),
]


@pytest.mark.parametrize("flaws,expected", TOKEN_CASES,
                         ids=[next((k for k, v in vars(f).items() if v), "secure") for f, _ in TOKEN_CASES])
async def test_token_family_detects_exactly_its_flaw_on_an_authorization_server(aiohttp_server, flaws, expected):
    """RFC 6749 §4.1.2: "The client MUST NOT use the authorization code more than once. If an authorization
    code is used more than once, the authorization server MUST deny the request"; §5.2: a failed client
    authentication "MUST respond with an HTTP 401 (Unauthorized) status code and include the
    WWW-Authenticate response header field"."""
    verdicts = await verdicts_for(aiohttp_server, token_endpoint, flaws)
    assert errors(verdicts) == {}
    assert findings(verdicts) == expected, {k: v.problems for k, v in verdicts.items() if k in failing(verdicts)}
    assert {k for k, v in verdicts.items() if v.verdict == "not-applicable"} == {
        "tok-password-wrong", "tok-password-enumeration", "tok-password-bruteforce"}


SLOW_CASES = [
    (Flaws(), {}),
    (Flaws(codes_never_expire=True), {"tok-code-expired": D}),
    (Flaws(used_codes_forgotten=True), {"tok-code-reuse-later": F}),
]


@pytest.mark.parametrize("flaws,expected", SLOW_CASES,
                         ids=[next((k for k, v in vars(f).items() if v), "secure") for f, _ in SLOW_CASES])
async def test_code_lifetime_scenarios_on_a_compressed_clock(aiohttp_server, monkeypatch, flaws, expected):
    """RFC 6749 §4.1.2: "The authorization code MUST expire shortly after it is issued ... A maximum
    authorization code lifetime of 10 minutes is RECOMMENDED" (a SHOULD: a deviation at most), and "If an
    authorization code is used more than once, the authorization server MUST deny the request" however long
    after. The `slow` rows wait up to 10.5 minutes; here the server's code lifetime is 1 s and the waits are
    scaled to it (age 1.3 s; replays 0.1, 0.4 and 0.8 s after the redemption, the flawed server forgetting
    used codes after 0.25 s)."""
    assert {s.id for s in token_endpoint.SCENARIOS if "slow" in s.tags} == {"tok-code-expired", "tok-code-reuse-later"}
    monkeypatch.setattr(token_endpoint, "CODE_AGE", 1.3)
    monkeypatch.setattr(token_endpoint, "USED_CODE_REPLAYS", (0.1, 0.4, 0.8))
    verdicts = await verdicts_for(aiohttp_server, token_endpoint, flaws, slow=True, code_ttl=1.0)
    assert errors(verdicts) == {}
    assert findings(verdicts) == expected, {k: v.problems for k, v in verdicts.items() if k in failing(verdicts)}


PASSWORD_CASES = [
    (PasswordFlaws(), {}),
    (PasswordFlaws(no_throttle=True), {"tok-password-bruteforce": F}),
    (PasswordFlaws(enumeration=True), {"tok-password-enumeration": F}),
    (PasswordFlaws(duplicates_first_wins=True), {"tok-duplicate-param": D}),
    (PasswordFlaws(get_accepted=True), {"tok-get": F}),
    (PasswordFlaws(wrong_password_401=True), {"tok-password-wrong": D, "tok-password-enumeration": F}),
    (PasswordFlaws(unknown_scope_granted=True), {"tok-scope-invalid": F}),
    (PasswordFlaws(no_store_missing=True), {}),     # hyg-token-no-store's business, not this family's
]


@pytest.mark.parametrize("flaws,expected", PASSWORD_CASES,
                         ids=[next((k for k, v in vars(f).items() if v), "secure") for f, _ in PASSWORD_CASES])
async def test_token_family_detects_exactly_its_flaw_on_a_password_server(aiohttp_server, flaws, expected):
    """RFC 6749 §4.3.2: "the authorization server MUST protect the endpoint against brute force attacks
    (e.g., using rate-limitation or generating alerts)"; §5.2: a wrong resource owner password is
    invalid_grant."""
    server = await aiohttp_server(create_password_server(flaws), host="127.0.0.1")
    target = password_target(str(server.make_url("")), scope="me items")
    async with new_session() as session:
        verdicts = await judge(token_endpoint.SCENARIOS, target, session)
    assert errors(verdicts) == {}
    assert findings(verdicts) == expected, {k: v.problems for k, v in verdicts.items() if k in failing(verdicts)}
    applicable = {k for k, v in verdicts.items() if v.verdict != "not-applicable"}
    assert applicable == {"tok-grant-unsupported", "tok-scope-invalid", "tok-get", "tok-duplicate-param",
                          "tok-error-shape", "tok-success-shape", "tok-password-wrong", "tok-password-enumeration",
                          "tok-password-bruteforce"}


# -- refresh tokens ------------------------------------------------------------------------------------------
REFRESH_CASES = [
    (Flaws(), {}),
    (Flaws(rt_not_client_bound=True), {"rt-other-client": F}),
    (Flaws(rt_scope_escalation=True), {"rt-scope-escalation": F}),
    (Flaws(rt_not_rotated=True), {"rt-public-client-protection": F}),
    (Flaws(rt_reuse_undetected=True), {"rt-rotation-reuse": F}),
    (Flaws(rt_family_not_revoked=True), {"rt-rotation-reuse": F}),
    (Flaws(rt_accepts_access_token=True), {"rt-kind-confusion": F}),
    (Flaws(rt_bad_chars=True), {"rt-charset": D}),
    (Flaws(no_store_missing=True), {"rt-response-headers": D}),
]


@pytest.mark.parametrize("flaws,expected", REFRESH_CASES,
                         ids=[next((k for k, v in vars(f).items() if v), "secure") for f, _ in REFRESH_CASES])
async def test_refresh_family_detects_exactly_its_flaw(aiohttp_server, flaws, expected):
    """RFC 6749 §10.4: "The authorization server MUST verify the binding between the refresh token and client
    identity"; RFC 9700 §2.2.2: refresh tokens for public clients "MUST be sender-constrained or use refresh
    token rotation"."""
    verdicts = await verdicts_for(aiohttp_server, refresh, flaws)
    assert errors(verdicts) == {}
    assert findings(verdicts) == expected, {k: v.problems for k, v in verdicts.items() if k in failing(verdicts)}
    if flaws.rt_not_rotated:   # nothing to replay: reported as not applicable, with the reason
        assert verdicts["rt-rotation-reuse"].verdict == "not-applicable"
        assert "does not rotate" in verdicts["rt-rotation-reuse"].reason


# -- authorization-server hygiene ----------------------------------------------------------------------------
HYGIENE_CASES = [
    (Flaws(), {}),
    (Flaws(no_store_missing=True), {"hyg-token-no-store": D}),
    (Flaws(no_frame_protection=True), {"hyg-clickjacking": F}),
    (Flaws(referrer_unsafe_url=True), {"hyg-referrer": D}),
    (Flaws(cors_authorize=True), {"hyg-no-cors-authz": D}),
    (Flaws(weak_codes=True), {"hyg-credential-entropy": F}),
    (Flaws(login_enumeration=True), {"hyg-login-enumeration": F}),
    (Flaws(login_timing=True), {"hyg-login-enumeration": F}),
]


@pytest.mark.parametrize("flaws,expected", HYGIENE_CASES,
                         ids=[next((k for k, v in vars(f).items() if v), "secure") for f, _ in HYGIENE_CASES])
async def test_hygiene_family_detects_exactly_its_flaw(aiohttp_server, flaws, expected):
    """RFC 6749 §5.1: token responses "MUST include the HTTP Cache-Control response header field with a value
    of no-store"; RFC 9700 §4.16: the AS "MUST prevent clickjacking attacks"; RFC 9700 §2.6: "CORS MUST NOT be
    supported at the Authorization Endpoint"; RFC 6749 §10.10: guessing probability "MUST be less than or
    equal to 2^(-128)"."""
    verdicts = await verdicts_for(aiohttp_server, hygiene_as, flaws)
    assert errors(verdicts) == {}
    assert findings(verdicts) == expected, {k: v.problems for k, v in verdicts.items() if k in failing(verdicts)}
    assert verdicts["hyg-tls-only"].verdict == "not-applicable"     # 127.0.0.1 over http: local development


async def test_hygiene_no_store_on_a_password_server(aiohttp_server):
    """The password servers' token responses are held to RFC 6749 §5.1 too."""
    for flaws, expected in ((PasswordFlaws(), {}), (PasswordFlaws(no_store_missing=True), {"hyg-token-no-store": D})):
        server = await aiohttp_server(create_password_server(flaws), host="127.0.0.1")
        async with new_session() as session:
            verdicts = await judge(hygiene_as.SCENARIOS, password_target(str(server.make_url(""))), session)
        assert errors(verdicts) == {} and findings(verdicts) == expected


# -- our own servers: zero findings -------------------------------------------------------------------------------
AS_FAMILIES = (pkce, redirect, token_endpoint, refresh, hygiene_as)
ALL_AS_SCENARIOS = [s for family in AS_FAMILIES for s in family.SCENARIOS if "slow" not in s.tags]


async def test_oauth_proxy_has_zero_findings(tmp_path):
    """A full run against our own authorization server finds nothing: every AS row that applies to
    oauth-proxy passes; the rest are not applicable for a stated reason."""
    with live_server("oauth-proxy", tmp_path) as base:
        secret = (tmp_path / "keys" / "client-secret-m2m").read_text().strip()
        target = as_target(base, name="oauth-proxy", confidential=("m2m", secret))
        async with new_session() as session:
            verdicts = await judge(ALL_AS_SCENARIOS, target, session)
    assert errors(verdicts) == {}
    assert findings(verdicts) == {}, {k: v.problems for k, v in verdicts.items() if k in failing(verdicts)}
    assert {k for k, v in verdicts.items() if v.verdict == "not-applicable"} == {
        "redir-query-mismatch", "tok-password-wrong", "tok-password-enumeration", "tok-password-bruteforce",
        "hyg-tls-only"}


@pytest.mark.parametrize("name,scope", [("backend", ""), ("backend2", ""), ("backend3", "me items")])
async def test_password_servers_have_zero_findings(tmp_path, name, scope):
    """RFC 6749 §4.3.2 / §5.1 / §5.2 on backend, backend2, backend3: wrong passwords are invalid_grant, an
    unknown user looks the same, brute force gets 429 with Retry-After, token responses are no-store."""
    with live_server(name, tmp_path) as base:
        async with new_session() as session:
            verdicts = await judge(ALL_AS_SCENARIOS, password_target(base, name=name, scope=scope), session)
    assert errors(verdicts) == {}
    assert findings(verdicts) == {}, {k: v.problems for k, v in verdicts.items() if k in failing(verdicts)}
    applicable = {k for k, v in verdicts.items() if v.verdict == "pass"}
    expected = {"tok-grant-unsupported", "tok-get", "tok-duplicate-param", "tok-error-shape", "tok-success-shape",
                "tok-password-wrong", "tok-password-enumeration", "tok-password-bruteforce", "hyg-token-no-store"}
    assert applicable == (expected | {"tok-scope-invalid"} if scope else expected)
