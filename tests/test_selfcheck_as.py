"""Self-check of the authorization-server families: each family, replayed against deliberately vulnerable
servers (tests/vulnerable_as.py), fails exactly the scenarios meant to catch each flaw, and nothing else;
against the flawless variant it finds nothing (so a finding is never noise)."""
from __future__ import annotations

import pytest

from conformance import pkce, redirect
from harness.client import new_session

from .asharness import errors, failing, judge, as_target
from .vulnerable_as import M2M_SECRET, Flaws, create_as


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
