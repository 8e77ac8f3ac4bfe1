"""Refresh tokens (catalog §9; RFC 6749 §6, §10.4, App. A.17; RFC 9700 §2.2.2, §4.14; RFC 8725 §3.12): a
refresh token works only for its client, never widens the scope, is rotated for public clients, and the
reuse of a rotated one revokes the whole family; tampered, random, revoked and access tokens are refused.
"""
from __future__ import annotations

import secrets

from harness.aschecks import (VSCHAR, all_of, analysis, by_label, expect_error, expect_facts, expect_no_store,
                              expect_token, json_body, token_scope)
from harness.askit import NotApplicable, require_tokens
from harness.client import send
from harness.scenario import Observation, Scenario, deviation, vulnerability

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
    rt, body = await kit.refresh_token(label=f"setup (scope={granted})", scope=granted)
    original = " ".join(sorted(set(granted.split()) | set(token_scope(body) or ())))
    return [await kit.refresh(rt, scope=wider, label=f"refresh asking scope={wider!r} (granted: {original!r})")]


def expect_no_wider_scope(obs: Observation) -> list[str]:
    """RFC 6749 §6 and §3.3: a refresh asking for more than was granted is refused with invalid_scope, or the
    extra scope is ignored and the response says what was granted."""
    body = json_body(obs)
    if obs.status == 200 and body.get("access_token"):
        granted = token_scope(body)
        original = set(_granted_label(obs.label))
        if granted is None:
            return [vulnerability("a token was issued without a scope parameter: by RFC 6749 §5.1 it has the wider "
                                  "scope that was requested", NO_WIDER)]
        extra = set(granted) - original
        if extra:
            return [vulnerability(f"the refreshed token carries {sorted(extra)}, never granted", NO_WIDER)]
        return []
    return expect_error(400, "invalid_scope", rule=NO_WIDER)(obs)


def _granted_label(label: str) -> list[str]:
    """The granted scope, recorded in the probe's label as "(granted: 'a b')"."""
    if "(granted: " not in label:
        return []
    return label.split("(granted: ", 1)[1].rstrip(")").strip("'\"").split()


async def narrow_refresh_scope(kit):
    """RT0 refreshed without scope (the baseline), RT1 narrowed to one scope, then RT2 refreshed without scope:
    it must get what the baseline got (the new refresh token kept the original scope)."""
    scopes = scopes_of(kit)
    if len(scopes) < 2:
        raise NotApplicable("needs a profile scope with at least two values")
    rt0, _ = await kit.refresh_token(label="setup (full scope)")
    base = await kit.refresh(rt0, label="control: refresh without scope (the original grant)")
    rt1 = require_tokens(base, "the refresh without scope").get("refresh_token") or rt0
    narrow = await kit.refresh(rt1, scope=scopes[0], label=f"control: refresh with scope={scopes[0]!r}")
    rt2 = require_tokens(narrow, "the narrowed refresh").get("refresh_token") or rt1
    kept = await kit.refresh(rt2, label="control: the next refresh token, refreshed without scope")
    facts = {"original": token_scope(json_body(base)), "narrowed": token_scope(json_body(narrow)),
             "requested": [scopes[0]], "kept": token_scope(json_body(kept)) if kept.status == 200 else None}
    return [base, narrow, kept, analysis("scope narrowing", facts, kept)]


def _narrowing_rule(facts: dict) -> list[str]:
    original, narrowed, kept = facts["original"], facts["narrowed"], facts["kept"]
    problems = []
    if narrowed is not None and original is not None and not set(narrowed) <= set(original):
        problems.append(vulnerability(f"the narrowed refresh granted {narrowed}, beyond the original {original}",
                                      NO_WIDER))
    if kept is not None and original is not None and set(kept) < set(original):
        problems.append(deviation(f"after narrowing, the next refresh token only gets {kept} (the original grant "
                                  f"got {original})", "MUST", SAME_RT_SCOPE))
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
    return [vulnerability("the public client's refresh token was neither rotated on every use nor "
                          "sender-constrained", PROTECT_PUBLIC)]


async def corrupt_refresh_token(kit):
    rt, _ = await kit.refresh_token(label="setup")
    out = [await kit.refresh(flip(rt), label="the refresh token with one character changed"),
           await kit.refresh(secrets.token_urlsafe(32), label="a random refresh token")]
    if kit.revocation_endpoint:
        rt2, _ = await kit.refresh_token(label="setup")
        revoked = await send(kit.session, "POST", kit.revocation_endpoint, label="revoke: RFC 7009 revocation",
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
    return [deviation(f"{where}: {name} has characters outside %x20-7E: {', '.join(bad)}", "MUST", VSCHAR_RULE)
            for where, tokens in facts.items() for name, bad in tokens.items() if bad]


def expect_revoked(obs: Observation) -> list[str]:
    if obs.status == 200:
        return []
    return [deviation(f"the revocation request got {obs.status}, expected 200", "MUST", REVOKE_200)]


# The sentences the expectations rest on.
RT_CLIENT = ('RFC 6749 §6: the authorization server MUST "authenticate the client if client authentication is '
             'included and ensure that the refresh token was issued to the authenticated client"; §10.4: "The '
             'authorization server MUST verify the binding between the refresh token and client identity"')
NO_WIDER = ('RFC 6749 §6: "The requested scope MUST NOT include any scope not originally granted by the resource '
            'owner"; §3.3: the AS "MAY fully or partially ignore the scope requested by the client" and then "MUST '
            'include the "scope" response parameter"')
ROTATION = ('RFC 9700 §4.14.2: with refresh token rotation, when an invalidated refresh token is presented the '
            'authorization server "will revoke the active refresh token"; §2.2.2: "Refresh tokens for public clients '
            'MUST be sender-constrained or use refresh token rotation as described in Section 4.14."')
SAME_RT_SCOPE = ('RFC 6749 §6: "If a new refresh token is issued, the refresh token scope MUST be identical to that '
                 'of the refresh token included by the client in the request."')
PROTECT_PUBLIC = ('RFC 9700 §2.2.2: "Refresh tokens for public clients MUST be sender-constrained or use refresh '
                  'token rotation as described in Section 4.14."')
RT_INVALID = ('RFC 6749 §5.2: "invalid_grant: The provided authorization grant ... or refresh token is invalid, '
              'expired, revoked"')
REVOKE_200 = ('RFC 7009 §2.2: "The authorization server responds with HTTP status code 200 if the token has been '
              'revoked successfully or if the client submitted an invalid token."')
KIND = ('RFC 6749 §6: "refresh_token REQUIRED. The refresh token issued to the client." (an access token is not '
        'one); §5.2: invalid_grant')
VSCHAR_RULE = 'RFC 6749 Appendix A.12 and A.17: "access-token = 1*VSCHAR", "refresh-token = 1*VSCHAR"'
NO_STORE_RT = 'RFC 6749 §5.1 (Cache-Control: no-store on every response with tokens)'


SCENARIOS: list[Scenario] = [
    Scenario("rt-other-client", "A refresh token is refused to a client it was not issued to.",
             ("RFC 6749 §6", "RFC 6749 §10.4"), AS, "critical", refresh_as_other_client,
             expect_error(400, "invalid_grant", "unauthorized_client", rule=RT_CLIENT), NEEDS | {"confidential_client"},
             FAMILY),
    Scenario("rt-scope-escalation", "A refresh cannot obtain scope beyond the original grant (refused, or the extra "
             "scope ignored and said so).", ("RFC 6749 §6", "RFC 6749 §3.3"), AS, "high", widen_refresh_scope,
             expect_no_wider_scope, NEEDS | {"scopes"}, FAMILY),
    Scenario("rt-scope-narrowing", "A refresh may narrow the scope; the next refresh token still carries the "
             "original grant.", ("RFC 6749 §6",), AS, "low", narrow_refresh_scope,
             by_label(expect_token(), analysis=expect_facts(_narrowing_rule)), NEEDS | {"multi_scope"}, FAMILY),
    Scenario("rt-rotation-reuse", "Replaying a rotated refresh token is refused and revokes its successor.",
             ("RFC 9700 §4.14.2", "RFC 6749 §10.4"), AS, "high", reuse_refresh_token,
             by_label(expect_error(400, "invalid_grant", rule=ROTATION), control=expect_token()), NEEDS, FAMILY),
    Scenario("rt-public-client-protection", "A public client's refresh token is rotated on every use (or "
             "sender-constrained).", ("RFC 9700 §2.2.2",), AS, "high", refresh_twice,
             by_label(expect_token(), analysis=expect_facts(_rotation_rule)), NEEDS, FAMILY),
    Scenario("rt-invalid", "Tampered, random and revoked refresh tokens are invalid_grant.", ("RFC 6749 §5.2",
             "RFC 7009 §2"), AS, "high", corrupt_refresh_token,
             by_label(expect_error(400, "invalid_grant", rule=RT_INVALID), revoke=expect_revoked), NEEDS, FAMILY),
    Scenario("rt-kind-confusion", "An access token is not accepted as a refresh token.", ("RFC 6749 §6",
             "RFC 6749 §5.2"), AS, "medium", swap_token_kinds, expect_error(400, "invalid_grant", rule=KIND), NEEDS,
             FAMILY),
    Scenario("rt-response-headers", "Refresh responses carry Cache-Control: no-store.", ("RFC 6749 §5.1",), AS,
             "medium", check_refresh_headers, all_of(expect_token(), expect_no_store()), NEEDS, FAMILY),
    Scenario("rt-charset", "Issued access and refresh tokens use only VSCHAR characters.", ("RFC 6749 Appendix A.17",
             "RFC 6749 Appendix A.12"), AS, "low", inspect_token_charset, expect_facts(_charset_rule), NEEDS, FAMILY),
]

NOT_APPLICABLE: dict[str, str] = {
    "rt-no-client-auth": "needs a confidential client that obtains refresh tokens through the code flow; a "
                         "profile's confidential client uses client_credentials, which issues none "
                         "(RFC 6749 §4.4.3)",
}
