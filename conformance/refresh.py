"""Refresh tokens (catalog §9; RFC 6749 §6, §10.4, App. A.17; RFC 9700 §2.2.2, §4.14; RFC 8725 §3.12): a
refresh token works only for its client, never widens the scope, is rotated for public clients, and the
reuse of a rotated one revokes the whole family; tampered, random, revoked and access tokens are refused.
"""
from __future__ import annotations

import secrets

from harness.aschecks import (VSCHAR, all_of, analysis, by_label, expect_error, expect_facts, expect_no_store,
                              expect_token, json_body)
from harness.askit import NotApplicable, require_tokens
from harness.client import send
from harness.scenario import Scenario

FAMILY = "refresh"
AS = "authorization-server"
NEEDS = frozenset({"authorization_code", "refresh_token"})


def flip(text: str) -> str:
    return text[:-1] + ("A" if text[-1] != "A" else "B")


def scopes_of(kit) -> list[str]:
    return kit.scope.split()


async def refresh_as_other_client(kit):
    rt, _ = await kit.refresh_token(label="setup (public client)")
    return [await kit.refresh(rt, client="confidential", label="the public client's refresh_token, presented by "
                                                               "the confidential client")]


async def widen_refresh_scope(kit):
    scopes = scopes_of(kit)
    if len(scopes) >= 2:
        granted, wider = scopes[0], " ".join(scopes)
    elif scopes:
        granted, wider = scopes[0], f"{scopes[0]} oauthlab-not-granted"
    else:
        raise NotApplicable("the profile names no scope")
    rt, _ = await kit.refresh_token(label=f"setup (scope={granted})", scope=granted)
    return [await kit.refresh(rt, scope=wider, label=f"refresh asking scope={wider!r} (granted: {granted!r})")]


def _granted(obs, fallback: list[str]) -> list[str]:
    scope = json_body(obs).get("scope")
    return scope.split() if isinstance(scope, str) else list(fallback)


async def narrow_refresh_scope(kit):
    scopes = scopes_of(kit)
    if len(scopes) < 2:
        raise NotApplicable("needs a profile scope with at least two values")
    rt, _ = await kit.refresh_token(label="setup (full scope)")
    narrow = await kit.refresh(rt, scope=scopes[0], label=f"refresh with scope={scopes[0]!r}")
    body = require_tokens(narrow, "the narrowed refresh")
    keep_rt = body.get("refresh_token") or rt
    keep = await kit.refresh(keep_rt, label="refresh again without scope (the original grant's scope)")
    facts = {"requested": [scopes[0]], "narrowed": _granted(narrow, [scopes[0]]), "original": scopes,
             "kept": _granted(keep, scopes)}
    return [narrow, keep, analysis("scope narrowing", facts, keep)]


def _narrowing_rule(facts: dict) -> list[str]:
    problems = []
    if not set(facts["narrowed"]) <= set(facts["requested"]):
        problems.append(f"asked for {facts['requested']}, got {facts['narrowed']}")
    if set(facts["kept"]) != set(facts["original"]):
        problems.append(f"the next refresh without scope got {facts['kept']}, not the original {facts['original']}")
    return problems


async def reuse_refresh_token(kit):
    rt1, _ = await kit.refresh_token(label="setup")
    first = await kit.refresh(rt1, label="control: RT1 -> RT2")
    rt2 = require_tokens(first, "refreshing RT1").get("refresh_token")
    if not rt2 or rt2 == rt1:
        raise NotApplicable("the authorization server does not rotate refresh tokens (see rt-public-client-protection)")
    replay = await kit.refresh(rt1, label="RT1 replayed after rotation")
    family = await kit.refresh(rt2, label="RT2 after the replay of RT1 (the family must be revoked)")
    return [first, replay, family]


async def refresh_twice(kit):
    rt1, _ = await kit.refresh_token(label="setup")
    a = await kit.refresh(rt1, label="control: first refresh")
    rt2 = json_body(a).get("refresh_token") or rt1
    b = await kit.refresh(rt2, label="control: second refresh")
    rt3 = json_body(b).get("refresh_token") or rt2
    rotated = [rt2 != rt1, rt3 != rt2]
    dpop = [str(json_body(o).get("token_type", "")).lower() == "dpop" for o in (a, b)]
    return [a, b, analysis("rotation", {"rotated": rotated, "sender_constrained": dpop}, b)]


def _rotation_rule(facts: dict) -> list[str]:
    if all(facts["sender_constrained"]) or all(facts["rotated"]):
        return []
    return ["the public client's refresh token was neither rotated on every use nor sender-constrained "
            "(RFC 9700 §2.2.2)"]


async def corrupt_refresh_token(kit):
    rt, _ = await kit.refresh_token(label="setup")
    out = [await kit.refresh(flip(rt), label="the refresh token with one character changed"),
           await kit.refresh(secrets.token_urlsafe(32), label="a random refresh token")]
    if kit.revocation_endpoint:
        rt2, _ = await kit.refresh_token(label="setup")
        revoked = await send(kit.session, "POST", kit.revocation_endpoint, label="revoke (RFC 7009)",
                             headers={"Content-Type": "application/x-www-form-urlencoded"},
                             data=f"token={rt2}&token_type_hint=refresh_token&client_id={kit.client_id}")
        if revoked.status != 200:
            out.append(revoked)  # RFC 7009 §2.2: 200 for a valid revocation request
        out.append(await kit.refresh(rt2, label="a revoked refresh token"))
    return out


async def swap_token_kinds(kit):
    _, _, body = await kit.tokens(label="setup")
    return [await kit.refresh(body["access_token"], label="the access token sent as refresh_token")]


async def check_refresh_headers(kit):
    rt, _ = await kit.refresh_token(label="setup")
    return [await kit.refresh(rt, label="refresh")]


def _charset_facts(body: dict) -> dict:
    out = {}
    for name in ("access_token", "refresh_token"):
        value = body.get(name)
        if isinstance(value, str):
            bad = sorted({f"U+{ord(c):04X}" for c in value if not VSCHAR.match(c)})
            out[name] = bad
    return out


async def inspect_token_charset(kit):
    rt, body = await kit.refresh_token(label="setup")
    again = await kit.refresh(rt, label="refresh")
    facts = {"code grant": _charset_facts(body), "refresh": _charset_facts(json_body(again))}
    return [analysis("token characters", facts, again)]


def _charset_rule(facts: dict) -> list[str]:
    return [f"{where}: {name} has characters outside %x20-7E: {', '.join(bad)}"
            for where, tokens in facts.items() for name, bad in tokens.items() if bad]


SCENARIOS: list[Scenario] = [
    Scenario("rt-other-client", "A refresh token is refused to a client it was not issued to.",
             ("RFC 6749 §6", "RFC 6749 §10.4"), AS, "critical", refresh_as_other_client,
             expect_error(400, "invalid_grant", "unauthorized_client"), NEEDS | {"confidential_client"}, FAMILY),
    Scenario("rt-scope-escalation", "A refresh cannot ask for scope beyond the original grant.", ("RFC 6749 §6",), AS,
             "high", widen_refresh_scope, expect_error(400, "invalid_scope"), NEEDS | {"scopes"}, FAMILY),
    Scenario("rt-scope-narrowing", "A refresh may narrow the scope; the refresh token keeps the original scope.",
             ("RFC 6749 §6",), AS, "low", narrow_refresh_scope,
             by_label(expect_token(), analysis=expect_facts(_narrowing_rule)), NEEDS | {"multi_scope"}, FAMILY),
    Scenario("rt-rotation-reuse", "Replaying a rotated refresh token is refused and revokes its successor.",
             ("RFC 9700 §4.14.2", "RFC 6749 §10.4"), AS, "high", reuse_refresh_token,
             by_label(expect_error(400, "invalid_grant"), control=expect_token()), NEEDS, FAMILY),
    Scenario("rt-public-client-protection", "A public client's refresh token is rotated on every use (or "
             "sender-constrained).", ("RFC 9700 §2.2.2",), AS, "high", refresh_twice,
             by_label(expect_token(), analysis=expect_facts(_rotation_rule)), NEEDS, FAMILY),
    Scenario("rt-invalid", "Tampered, random and revoked refresh tokens are invalid_grant.", ("RFC 6749 §5.2",
             "RFC 7009 §2"), AS, "high", corrupt_refresh_token, expect_error(400, "invalid_grant"), NEEDS, FAMILY),
    Scenario("rt-kind-confusion", "An access token is not accepted as a refresh token.", ("RFC 8725 §3.12",), AS,
             "medium", swap_token_kinds, expect_error(400, "invalid_grant"), NEEDS, FAMILY),
    Scenario("rt-response-headers", "Refresh responses carry Cache-Control: no-store and Pragma: no-cache.",
             ("RFC 6749 §5.1",), AS, "medium", check_refresh_headers, all_of(expect_token(), expect_no_store()), NEEDS,
             FAMILY),
    Scenario("rt-charset", "Issued access and refresh tokens use only VSCHAR characters.", ("RFC 6749 Appendix A.17",
             "RFC 6749 Appendix A.12"), AS, "low", inspect_token_charset, expect_facts(_charset_rule), NEEDS, FAMILY),
]

NOT_APPLICABLE: dict[str, str] = {
    "rt-no-client-auth": "needs a confidential client that obtains refresh tokens through the code flow; a "
                         "profile's confidential client uses client_credentials, which issues none "
                         "(RFC 6749 §4.4.3)",
}
