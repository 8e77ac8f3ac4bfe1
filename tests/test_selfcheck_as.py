"""Self-check of the authorization-server families: each family, replayed against deliberately vulnerable
servers (tests/vulnerable_as.py), fails exactly the scenarios meant to catch each flaw, and nothing else;
against the flawless variant it finds nothing (so a finding is never noise)."""
from __future__ import annotations

import pytest

from conformance import pkce
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
