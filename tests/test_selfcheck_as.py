"""Self-check of the authorization-server families: each family, replayed against deliberately vulnerable
servers (tests/vulnerable_as.py), fails exactly the scenarios meant to catch each flaw, and nothing else;
against the flawless variant it finds nothing (so a finding is never noise)."""
from __future__ import annotations

import pytest

from conformance import hygiene_as, pkce, redirect, refresh, token_endpoint
from harness.client import new_session

from .conftest import live_server
from .asharness import as_target, errors, failing, judge, password_target
from .vulnerable_as import M2M_SECRET, Flaws, PasswordFlaws, create_as, create_password_server


async def verdicts_for(aiohttp_server, family, flaws: Flaws, **kw):
    server = await aiohttp_server(create_as(flaws, consent=kw.pop("consent", False)), host="127.0.0.1")
    target = as_target(str(server.make_url("/")), confidential=("m2m", M2M_SECRET), **kw)
    async with new_session() as session:
        return await judge(family.SCENARIOS, target, session)


# -- PKCE ----------------------------------------------------------------------------------------------------
PKCE_CASES = [
    (Flaws(), set()),
    (Flaws(pkce_optional=True), {"pkce-required-public", "pkce-downgrade"}),
    (Flaws(plain_accepted=True), {"pkce-plain-rejected"}),
    (Flaws(verifier_ignored=True), {"pkce-verifier-missing", "pkce-verifier-wrong", "pkce-cross-code",
                                    "pkce-verifier-format"}),
    (Flaws(verifier_optional=True), {"pkce-verifier-missing"}),
    (Flaws(verifier_format_unchecked=True), {"pkce-verifier-format"}),
    (Flaws(challenge_format_unchecked=True), {"pkce-challenge-format"}),
    (Flaws(method_lenient=True), {"pkce-method-unknown", "pkce-method-default-plain"}),
    (Flaws(no_pkce_metadata=True), {"pkce-metadata"}),
]


@pytest.mark.parametrize("flaws,expected", PKCE_CASES,
                         ids=[next((k for k, v in vars(f).items() if v), "secure") for f, _ in PKCE_CASES])
async def test_pkce_family_detects_exactly_its_flaw(aiohttp_server, flaws, expected):
    """RFC 7636 §4.6: the server MUST verify code_verifier against the stored challenge; RFC 9700 §2.1.1:
    "Authorization servers MUST support PKCE" and "MUST enforce the correct usage of code_verifier"."""
    verdicts = await verdicts_for(aiohttp_server, pkce, flaws)
    assert errors(verdicts) == {}
    assert failing(verdicts) == expected, {k: v.problems for k, v in verdicts.items() if v.verdict == "fail"}


async def test_pkce_family_works_through_a_consent_page(aiohttp_server):
    """The login driver "submits any consent form that follows": the flawless server behind a consent page
    still gets zero findings (the controls pass, so the login and consent were driven for real)."""
    verdicts = await verdicts_for(aiohttp_server, pkce, Flaws(), consent=True)
    assert errors(verdicts) == {}
    assert failing(verdicts) == set()
    assert verdicts["pkce-rfc7636-vector"].verdict == "pass"


# -- code flow and redirect URI ------------------------------------------------------------------------------
REDIRECT_CASES = [
    (Flaws(), set()),
    (Flaws(redirect_prefix=True), {"redir-query-added", "redir-lookalike", "redir-fragment"}),
    (Flaws(state_dropped=True), {"authz-state-echo", "authz-state-long", "authz-error-redirect"}),
    (Flaws(state_truncated=True), {"authz-state-long"}),
    (Flaws(duplicates_first_wins=True), {"authz-duplicate-param"}),
    (Flaws(unknown_param_rejected=True), {"authz-unknown-param"}),
    (Flaws(error_page_for_request_errors=True), {"authz-error-redirect"}),
    (Flaws(csrf_unchecked=True), {"authz-csrf-consent"}),
    (Flaws(login_307=True), {"authz-no-307"}),
    (Flaws(iss_missing=True), {"authz-iss-param"}),
]


@pytest.mark.parametrize("flaws,expected", REDIRECT_CASES,
                         ids=[next((k for k, v in vars(f).items() if v), "secure") for f, _ in REDIRECT_CASES])
async def test_redirect_family_detects_exactly_its_flaw(aiohttp_server, flaws, expected):
    """RFC 6749 §4.1.2.1: the AS "MUST NOT automatically redirect the user-agent to the invalid redirection
    URI"; RFC 9700 §4.1.3: redirect URIs are compared by exact string matching; RFC 6749 §4.1.2: state is
    "the exact value received from the client"."""
    verdicts = await verdicts_for(aiohttp_server, redirect, flaws)
    assert errors(verdicts) == {}
    assert failing(verdicts) == expected, {k: v.problems for k, v in verdicts.items() if v.verdict == "fail"}
    assert verdicts["redir-query-mismatch"].verdict == "not-applicable"   # the profile's URI has no query


async def test_redirect_family_with_a_consent_page_and_a_query_in_the_registered_uri(aiohttp_server):
    """Consent forms carry their own CSRF token; a registered redirect URI with a query must match exactly
    (OpenID conformance oidcc-redirect-uri-query-mismatch / -query-OK)."""
    import tests.vulnerable_as as v
    old = v.CLIENTS["frontend"]["redirect_uris"]
    v.CLIENTS["frontend"]["redirect_uris"] = old + ("http://localhost:8080/cb?a=1",)
    try:
        verdicts = await verdicts_for(aiohttp_server, redirect, Flaws(), consent=True,
                                      redirect_uri="http://localhost:8080/cb?a=1")
        assert errors(verdicts) == {} and failing(verdicts) == set()
        assert verdicts["redir-query-mismatch"].verdict == "pass"
        verdicts = await verdicts_for(aiohttp_server, redirect, Flaws(csrf_unchecked=True, redirect_prefix=True),
                                      consent=True, redirect_uri="http://localhost:8080/cb?a=1")
        assert failing(verdicts) == {"authz-csrf-consent", "redir-query-mismatch", "redir-query-added",
                                     "redir-lookalike", "redir-fragment"}
    finally:
        v.CLIENTS["frontend"]["redirect_uris"] = old


# -- token endpoint ------------------------------------------------------------------------------------------
TOKEN_CASES = [
    (Flaws(), set()),
    (Flaws(code_replay=True), {"tok-code-reuse", "tok-code-reuse-revokes", "tok-code-race"}),
    (Flaws(code_reuse_no_revoke=True), {"tok-code-reuse-revokes"}),
    (Flaws(code_race=True), {"tok-code-race"}),
    (Flaws(code_not_client_bound=True), {"tok-code-wrong-client"}),
    (Flaws(token_redirect_unchecked=True), {"tok-redirect-mismatch"}),
    (Flaws(token_redirect_optional=True), {"tok-redirect-omitted"}),
    (Flaws(garbage_code_500=True), {"tok-code-garbage"}),
    (Flaws(client_auth_optional=True), {"tok-client-auth-missing"}),
    # a 401 without WWW-Authenticate is wrong wherever it appears (RFC 6749 §5.2)
    (Flaws(basic_no_challenge=True), {"tok-client-auth-bad-basic", "tok-client-auth-missing",
                                      "tok-client-id-mismatch"}),
    (Flaws(two_auth_methods_accepted=True), {"tok-client-auth-two-methods"}),
    (Flaws(client_id_mismatch_accepted=True), {"tok-client-id-mismatch"}),
    (Flaws(unsupported_grant_as_invalid_request=True), {"tok-grant-unsupported"}),
    (Flaws(password_grant=True), {"tok-password-bcp", "tok-grant-unauthorized"}),
    (Flaws(cc_public_allowed=True), {"tok-cc-public-client"}),
    (Flaws(cc_refresh_token=True), {"tok-cc-no-refresh"}),
    (Flaws(scope_unchecked=True), {"tok-scope-invalid"}),
    (Flaws(token_get=True), {"tok-get"}),
    (Flaws(token_duplicates_first_wins=True), {"tok-duplicate-param"}),
    (Flaws(error_text_plain=True), {"tok-error-shape"}),
    (Flaws(no_expires_in=True), {"tok-success-shape"}),
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
    assert failing(verdicts) == expected, {k: v.problems for k, v in verdicts.items() if v.verdict == "fail"}
    assert {k for k, v in verdicts.items() if v.verdict == "not-applicable"} == {
        "tok-password-wrong", "tok-password-enumeration", "tok-password-bruteforce"}


PASSWORD_CASES = [
    (PasswordFlaws(), set()),
    (PasswordFlaws(no_throttle=True), {"tok-password-bruteforce"}),
    (PasswordFlaws(enumeration=True), {"tok-password-enumeration"}),
    (PasswordFlaws(duplicates_first_wins=True), {"tok-duplicate-param"}),
    (PasswordFlaws(get_accepted=True), {"tok-get"}),
    (PasswordFlaws(wrong_password_401=True), {"tok-password-wrong", "tok-password-enumeration"}),
    (PasswordFlaws(unknown_scope_granted=True), {"tok-scope-invalid"}),
    (PasswordFlaws(no_store_missing=True), set()),     # hyg-token-no-store's business, not this family's
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
    assert failing(verdicts) == expected, {k: v.problems for k, v in verdicts.items() if v.verdict == "fail"}
    applicable = {k for k, v in verdicts.items() if v.verdict != "not-applicable"}
    assert applicable == {"tok-grant-unsupported", "tok-scope-invalid", "tok-get", "tok-duplicate-param",
                          "tok-error-shape", "tok-success-shape", "tok-password-wrong", "tok-password-enumeration",
                          "tok-password-bruteforce"}


# -- refresh tokens ------------------------------------------------------------------------------------------
REFRESH_CASES = [
    (Flaws(), set()),
    (Flaws(rt_not_client_bound=True), {"rt-other-client"}),
    (Flaws(rt_scope_escalation=True), {"rt-scope-escalation"}),
    (Flaws(rt_not_rotated=True), {"rt-public-client-protection"}),
    (Flaws(rt_reuse_undetected=True), {"rt-rotation-reuse"}),
    (Flaws(rt_family_not_revoked=True), {"rt-rotation-reuse"}),
    (Flaws(rt_accepts_access_token=True), {"rt-kind-confusion"}),
    (Flaws(rt_bad_chars=True), {"rt-charset"}),
    (Flaws(no_store_missing=True), {"rt-response-headers"}),
]


@pytest.mark.parametrize("flaws,expected", REFRESH_CASES,
                         ids=[next((k for k, v in vars(f).items() if v), "secure") for f, _ in REFRESH_CASES])
async def test_refresh_family_detects_exactly_its_flaw(aiohttp_server, flaws, expected):
    """RFC 6749 §10.4: "The authorization server MUST verify the binding between the refresh token and client
    identity"; RFC 9700 §2.2.2: refresh tokens for public clients "MUST be sender-constrained or use refresh
    token rotation"."""
    verdicts = await verdicts_for(aiohttp_server, refresh, flaws)
    assert errors(verdicts) == {}
    assert failing(verdicts) == expected, {k: v.problems for k, v in verdicts.items() if v.verdict == "fail"}
    if flaws.rt_not_rotated:   # nothing to replay: reported as not applicable, with the reason
        assert verdicts["rt-rotation-reuse"].verdict == "not-applicable"
        assert "does not rotate" in verdicts["rt-rotation-reuse"].reason


# -- authorization-server hygiene ----------------------------------------------------------------------------
HYGIENE_CASES = [
    (Flaws(), set()),
    (Flaws(no_store_missing=True), {"hyg-token-no-store"}),
    (Flaws(no_frame_protection=True), {"hyg-clickjacking"}),
    (Flaws(no_referrer_policy=True), {"hyg-referrer"}),
    (Flaws(cors_authorize=True), {"hyg-no-cors-authz"}),
    (Flaws(weak_codes=True), {"hyg-credential-entropy"}),
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
    assert failing(verdicts) == expected, {k: v.problems for k, v in verdicts.items() if v.verdict == "fail"}
    assert verdicts["hyg-tls-only"].verdict == "not-applicable"     # 127.0.0.1 over http: local development


async def test_hygiene_no_store_on_a_password_server(aiohttp_server):
    """The password servers' token responses are held to RFC 6749 §5.1 too."""
    for flaws, expected in ((PasswordFlaws(), set()), (PasswordFlaws(no_store_missing=True), {"hyg-token-no-store"})):
        server = await aiohttp_server(create_password_server(flaws), host="127.0.0.1")
        async with new_session() as session:
            verdicts = await judge(hygiene_as.SCENARIOS, password_target(str(server.make_url(""))), session)
        assert errors(verdicts) == {} and failing(verdicts) == expected


# -- our own servers: zero findings -------------------------------------------------------------------------------
AS_FAMILIES = (pkce, redirect, token_endpoint, refresh, hygiene_as)
ALL_AS_SCENARIOS = [s for family in AS_FAMILIES for s in family.SCENARIOS]


async def test_oauth_proxy_has_zero_findings(tmp_path):
    """Issue 4, "Done when": a full run against our own servers with zero findings. Every AS row that
    applies to oauth-proxy passes; the rest are not applicable for a stated reason."""
    with live_server("oauth-proxy", tmp_path) as base:
        secret = (tmp_path / "keys" / "client-secret-m2m").read_text().strip()
        target = as_target(base, name="oauth-proxy", confidential=("m2m", secret))
        async with new_session() as session:
            verdicts = await judge(ALL_AS_SCENARIOS, target, session)
    assert errors(verdicts) == {}
    assert failing(verdicts) == set(), {k: v.problems for k, v in verdicts.items() if v.verdict == "fail"}
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
    assert failing(verdicts) == set(), {k: v.problems for k, v in verdicts.items() if v.verdict == "fail"}
    applicable = {k for k, v in verdicts.items() if v.verdict == "pass"}
    expected = {"tok-grant-unsupported", "tok-get", "tok-duplicate-param", "tok-error-shape", "tok-success-shape",
                "tok-password-wrong", "tok-password-enumeration", "tok-password-bruteforce", "hyg-token-no-store"}
    assert applicable == (expected | {"tok-scope-invalid"} if scope else expected)
