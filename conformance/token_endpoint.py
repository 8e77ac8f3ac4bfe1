"""Token endpoint (catalog §8; RFC 6749 §2.3, §3.2, §4.1.3, §4.3.2, §4.4, §5.1, §5.2, §10.5; RFC 9700 §2.4):
codes are single-use, bound to their client and redirect URI; clients authenticate with exactly one method
and a failed Basic authentication is a 401 with a challenge; errors are the RFC's JSON; the password grant,
where it exists, refuses wrong passwords without telling which part was wrong and slows brute force down.

Rows marked ``token-endpoint`` run against every target with a token endpoint: our authorization server
and our password servers (backend, backend2, backend3). The three password rows that fail logins are
tagged ``disruptive`` (the runner runs them last, one at a time, in this order: wrong password, enumeration,
brute force), because they trip the login throttle for the harness's address.

``tok-password-bcp`` (RFC 9700 §2.4: the password grant MUST NOT be used) is checked on authorization
servers that offer the code flow, where it has a replacement; it is informational (severity low, tag
``informational``). Our password servers exist to teach the tutorial's password flow, so for them the row
is not applicable by design (it needs ``authorization_code``), and the README says to prefer oauth-proxy.
"""
from __future__ import annotations

import asyncio
import secrets

from harness.aschecks import (ERROR_RESPONSE, analysis, by_label, expect_error, expect_error_shape, expect_facts,
                              expect_no_token, expect_success_shape, expect_throttled, expect_token, json_body,
                              token_scope)
from harness.askit import NotApplicable, require_tokens
from harness.scenario import Scenario, deviation, vulnerability

from .as_rules import (BAD_BASIC, CC_CONFIDENTIAL, CLIENT_AUTH, CODE_CLIENT, CODE_LIFETIME, CODE_ONCE, CODE_REDIRECT,
                       CODE_REVOKE, INVALID_GRANT, INVALID_SCOPE, ONCE_ONLY, PASSWORD_BCP, POST_ONLY, SAME_ANSWER,
                       SCOPE_IGNORED, UNAUTHORIZED_CLIENT, UNSUPPORTED_GRANT)

FAMILY = "token"
AS = "authorization-server"
TE = "token-endpoint"
CODE_FLOW = frozenset({"authorization_code"})
CONFIDENTIAL = frozenset({"authorization_code", "confidential_client"})
PASSWORD = frozenset({"password_grant"})
WRONG_PASSWORD = "oauthlab-wrong-password-Zq9"
UNKNOWN_USER = "oauthlab-no-such-user-7Kd"
BRUTE_FORCE_ATTEMPTS = 30
RACE_SIZE = 10
UNKNOWN_SCOPE = "oauthlab-unknown-scope"



def flip(text: str) -> str:
    """One character changed (the last), staying in the same alphabet."""
    return text[:-1] + ("A" if text[-1] != "A" else "B")


# -- authorization code ---------------------------------------------------------------------------------------
async def replay_code(kit):
    authz = await kit.authorize(label="authorize")
    first = await kit.redeem(authz, label="control: first redemption")
    second = await kit.redeem(authz, label="second redemption of the same code")
    return [first, second]


async def replay_code_then_refresh(kit):
    """Redeem, replay (refused), then the refresh token of the first redemption must be revoked too."""
    authz = await kit.authorize(label="authorize")
    first = await kit.redeem(authz, label="control: first redemption")
    body = require_tokens(first, "the first redemption")
    if not body.get("refresh_token"):
        raise NotApplicable("the authorization server issued no refresh_token, so the revocation of the first "
                            "redemption's grant cannot be observed at the token endpoint")
    second = await kit.redeem(authz, label="second redemption of the same code")
    after = await kit.refresh(body["refresh_token"], label="revoked: the first redemption's refresh_token after the "
                                                           "replay")
    return [first, second, after]


async def race_code(kit):
    authz = await kit.authorize(label="authorize")
    authz.require_code()
    answers = await asyncio.gather(*(kit.redeem(authz, label=f"concurrent redemption {i + 1}/{RACE_SIZE}")
                                     for i in range(RACE_SIZE)))
    outcomes = [(o.status, json_body(o).get("error")) for o in answers]
    successes = sum(1 for o in answers if o.status == 200 and json_body(o).get("access_token"))
    basis = next((o for o in answers if o.status == 200), answers[-1])
    return [analysis(f"{RACE_SIZE} concurrent redemptions of one code",
                     {"successes": successes, "outcomes": outcomes}, basis)]


def _race_rule(facts: dict) -> list[str]:
    problems = []
    if facts["successes"] > 1:
        problems.append(vulnerability(f"{facts['successes']} of {RACE_SIZE} concurrent redemptions got tokens, "
                                      "expected exactly 1", CODE_ONCE))
    elif facts["successes"] == 0:
        problems.append(deviation(f"none of {RACE_SIZE} concurrent redemptions got tokens", "MUST", CODE_ONCE))
    others = [o for o in facts["outcomes"] if o[0] != 200]
    bad = [o for o in others if tuple(o) != (400, "invalid_grant")]
    if bad:
        problems.append(deviation(f"losers answered {bad[:3]}, expected 400 invalid_grant", "MUST", ERROR_RESPONSE))
    return problems


async def redeem_code_as_other_client(kit):
    authz = await kit.authorize(label="authorize (public client)")
    return [await kit.redeem(authz, label="redeemed by the confidential client (Basic)", client_id=None,
                             auth=kit.require_confidential())]


async def set_token_redirect_uri(kit):
    out = []
    for label, uri in (("the registered redirect_uri with a trailing slash", kit.redirect_uri.rstrip("/") + "/"),
                       ("another redirect_uri", "https://attacker.example/cb")):
        authz = await kit.authorize(label="authorize")
        out.append(await kit.redeem(authz, label=f"token with {label}", redirect_uri=uri))
    return out


async def drop_token_redirect_uri(kit):
    authz = await kit.authorize(label="authorize")
    return [await kit.redeem(authz, label="token without redirect_uri", redirect_uri=None)]


async def garble_code(kit):
    authz = await kit.authorize(label="authorize")
    code = authz.require_code()
    return [await kit.redeem(authz, label="a random code", code=secrets.token_urlsafe(32)),
            await kit.redeem(authz, label="the code with one character changed", code=flip(code)),
            await kit.redeem(authz, label="empty: code=", code="")]


# -- client authentication ------------------------------------------------------------------------------------
async def drop_client_secret(kit):
    return [await kit.client_credentials(auth="none", label="client_credentials with client_id and no secret")]


async def set_wrong_client_secret(kit):
    return [await kit.client_credentials(auth="basic", secret="oauthlab-wrong-secret",
                                         label="Basic with a wrong secret")]


# -- grant types and scope --------------------------------------------------------------------------------------
def _client_pairs(kit) -> list[tuple[str, str]]:
    return [("client_id", kit.client_id)] if kit.client_id else []


async def send_unsupported_grant(kit):
    out = []
    for grant in ("urn:example:unknown", "implicit"):
        out.append(await kit.token([("grant_type", grant), *_client_pairs(kit)], label=f"grant_type={grant}"))
    out.append(await kit.token([("grant_type", ""), *_client_pairs(kit)], label="empty: grant_type="))
    return out


async def use_password_grant_as_confidential_client(kit):
    user, password = kit.password_credentials()
    return [await kit.token([("grant_type", "password"), ("username", user), ("password", password)],
                            auth=kit.require_confidential(),
                            label="password grant by the client_credentials-only client")]


async def use_client_credentials_as_public_client(kit):
    return [await kit.token([("grant_type", "client_credentials"), ("client_id", kit.client_id)],
                            label="client_credentials by the public client")]


async def check_cc_refresh(kit):
    return [await kit.client_credentials(label="client_credentials")]


async def request_unknown_scope(kit):
    if kit.confidential is not None:
        return [await kit.client_credentials(scope=UNKNOWN_SCOPE, label="client_credentials, unknown scope")]
    if kit.is_password_server and kit.scope:
        return [await kit.password_grant(scope=UNKNOWN_SCOPE, label="password grant, unknown scope")]
    raise NotApplicable("needs a confidential client, or a password grant whose profile has scopes")


def expect_unknown_scope_refused_or_ignored(obs) -> list[str]:
    """RFC 6749 §3.3: the AS MAY ignore a requested scope, and then MUST say what it granted."""
    body = json_body(obs)
    if obs.status == 200 and "access_token" in body:
        granted = token_scope(body)
        if granted is None:
            return [deviation("a token was issued without a scope parameter, so the unknown scope counts as "
                              "granted", "MUST", SCOPE_IGNORED)]
        if UNKNOWN_SCOPE in granted:
            return [vulnerability(f"the unknown scope was granted (scope={' '.join(granted)!r}): requested scopes "
                                  "are not checked", SCOPE_IGNORED)]
        return []   # ignored, and said so
    return expect_error(400, "invalid_scope", rule=INVALID_SCOPE)(obs)


async def use_get_on_token_endpoint(kit):
    if kit.is_password_server:
        return [await kit.password_grant(method="GET", label="GET /token with the password grant")]
    authz = await kit.authorize(label="authorize")
    code = authz.require_code()
    params = kit.code_params(code, authz=authz)
    return [await kit.token(params, method="GET", label="GET /token?grant_type=authorization_code&code=...")]


async def repeat_token_params(kit):
    if kit.is_password_server:
        user, password = kit.password_credentials()
        return [await kit.token([("grant_type", "password"), ("grant_type", "password"), ("username", user),
                                 ("password", password)], label="grant_type twice"),
                await kit.token([("grant_type", "password"), ("username", user), ("username", "alice"),
                                 ("password", password)], label="username twice")]
    out = []
    for label, extra in (("code twice", "code"), ("grant_type twice", "grant_type")):
        authz = await kit.authorize(label="authorize")
        code = authz.require_code()
        params = [(k, v) for k, v in kit.code_params(code, authz=authz).items() if v is not None]
        value = dict(params)[extra]
        out.append(await kit.token(params + [(extra, value)], label=label))
    return out


async def collect_error_responses(kit):
    out = [await kit.token([("grant_type", "urn:example:unknown"), *_client_pairs(kit)], label="unsupported grant"),
           await kit.token(_client_pairs(kit) or [("foo", "bar")], label="no grant_type")]
    if kit.has_code_flow:
        out.append(await kit.token(kit.code_params(secrets.token_urlsafe(32), verifier="x" * 43),
                                   label="an unknown code"))
    return out


async def obtain_token(kit):
    if kit.is_password_server:
        return [await kit.password_grant(label="password grant")]
    authz = await kit.authorize(label="authorize")
    return [await kit.redeem(authz, label="authorization_code grant")]


async def try_password_grant(kit):
    user, password = kit.password_credentials()
    return [await kit.token([("grant_type", "password"), ("username", user), ("password", password),
                             *_client_pairs(kit)], label="password grant by the public client")]


# -- the password grant (disruptive: each failure counts against the harness's address) ------------------------
async def send_wrong_password(kit):
    user, _ = kit.password_credentials()
    return [await kit.password_grant(user, WRONG_PASSWORD, label="the real user with a wrong password")]


def _answer(obs) -> dict:
    body = json_body(obs)
    return {"status": obs.status, "error": body.get("error"), "error_description": body.get("error_description"),
            "fields": sorted(body), "www_authenticate": obs.headers.get("WWW-Authenticate")}


async def compare_unknown_user(kit):
    user, _ = kit.password_credentials()
    known = await kit.password_grant(user, WRONG_PASSWORD, label="the real user with a wrong password")
    unknown = await kit.password_grant(UNKNOWN_USER, WRONG_PASSWORD, label="an unknown user")
    return [known, unknown, analysis("unknown user vs wrong password",
                                     {"wrong_password": _answer(known), "unknown_user": _answer(unknown)}, unknown)]


def _enumeration_rule(facts: dict) -> list[str]:
    a, b = facts["wrong_password"], facts["unknown_user"]
    diff = [k for k in a if a[k] != b[k]]
    if diff:
        return [vulnerability(f"the answers differ in {', '.join(diff)}: a wrong password and an unknown user can "
                              "be told apart", SAME_ANSWER)]
    return []


# -- code lifetime (slow: waits up to 11 minutes) -------------------------------------------------------------
CODE_AGE = 10 * 60 + 30             # older than the RECOMMENDED maximum lifetime of 10 minutes
USED_CODE_REPLAYS = (65, 5 * 60, 10 * 60 + 30)   # seconds after the first redemption


async def age_code(kit):
    """A code redeemed only after it is older than 10 minutes."""
    authz = await kit.authorize(label="authorize")
    authz.require_code()
    await asyncio.sleep(CODE_AGE)
    return [await kit.redeem(authz, label=f"token with a code {CODE_AGE} s old")]


async def replay_used_code_later(kit):
    """A used code replayed 65 s, 5 min and 10.5 min after its redemption: a server that forgets used codes
    before they expire lets a stolen code be redeemed again."""
    authz = await kit.authorize(label="authorize")
    first = await kit.redeem(authz, label="control: first redemption")
    out, waited = [first], 0
    for at in USED_CODE_REPLAYS:
        await asyncio.sleep(at - waited)
        waited = at
        out.append(await kit.redeem(authz, label=f"the used code replayed {at} s after its redemption"))
    return out


async def brute_force_password(kit):
    user, _ = kit.password_credentials()
    last = None
    for i in range(1, BRUTE_FORCE_ATTEMPTS + 1):
        last = await kit.password_grant(user, f"{WRONG_PASSWORD}-{i}", label=f"wrong password #{i} of at most "
                                                                             f"{BRUTE_FORCE_ATTEMPTS}")
        if last.status in (429, 503) or last.status is None:
            break
        if last.status == 200:
            break   # a wrong password was accepted: judged as such
    return [last]


# Each row: the expectation, and the sentence it rests on (see conformance/as_rules.py).
SCENARIOS: list[Scenario] = [
    Scenario("tok-code-reuse", "A code redeemed once is refused the second time.", ("RFC 6749 §4.1.2", "RFC 6749 §10.5"),
             AS, "critical", replay_code,
             by_label(expect_error(400, "invalid_grant", rule=CODE_ONCE), control=expect_token()), CODE_FLOW, FAMILY),
    Scenario("tok-code-reuse-revokes", "Replaying a code revokes what its first redemption issued (SHOULD).",
             ("RFC 6749 §4.1.2", "RFC 6749 §10.5"), AS, "medium", replay_code_then_refresh,
             by_label(expect_error(400, "invalid_grant", rule=CODE_ONCE), control=expect_token(),
                      revoked=expect_error(400, "invalid_grant", rule=CODE_REVOKE, keyword="SHOULD")),
             CODE_FLOW | {"refresh_token"}, FAMILY),
    Scenario("tok-code-race", f"Of {RACE_SIZE} concurrent redemptions of one code exactly one succeeds.",
             ("RFC 6749 §4.1.2",), AS, "high", race_code, expect_facts(_race_rule), CODE_FLOW, FAMILY),
    Scenario("tok-code-wrong-client", "A code issued to one client is refused to another.",
             ("RFC 6749 §4.1.3", "RFC 6749 §5.2"), AS, "critical", redeem_code_as_other_client,
             expect_error(400, "invalid_grant", "unauthorized_client", rule=CODE_CLIENT), CONFIDENTIAL, FAMILY),
    Scenario("tok-redirect-mismatch", "A token request whose redirect_uri differs from the authorization request's "
             "is refused.", ("RFC 6749 §4.1.3", "RFC 6749 §10.6"), AS, "high", set_token_redirect_uri,
             expect_error(400, "invalid_grant", rule=CODE_REDIRECT), CODE_FLOW, FAMILY),
    Scenario("tok-redirect-omitted", "redirect_uri sent at authorize is required at the token endpoint.",
             ("RFC 6749 §4.1.3",), AS, "medium", drop_token_redirect_uri,
             expect_error(400, "invalid_request", "invalid_grant", rule=CODE_REDIRECT, issued="deviation"), CODE_FLOW,
             FAMILY),
    Scenario("tok-code-garbage", "Random, altered and empty codes are refused cleanly.", ("RFC 6749 §5.2",
             "RFC 6749 §10.10"), AS, "medium", garble_code,
             by_label(expect_error(400, "invalid_grant", rule=INVALID_GRANT),
                      empty=expect_error(400, "invalid_request", "invalid_grant", rule=UNSUPPORTED_GRANT)),
             CODE_FLOW, FAMILY),
    Scenario("tok-client-auth-missing", "A confidential client without credentials is refused.",
             ("RFC 6749 §3.2.1", "RFC 6749 §5.2"), AS, "high", drop_client_secret,
             expect_error((400, 401), "invalid_client", "invalid_request", rule=CLIENT_AUTH), CONFIDENTIAL, FAMILY),
    Scenario("tok-client-auth-bad-basic", "A wrong Basic secret gets 401 invalid_client with a Basic challenge.",
             ("RFC 6749 §5.2", "RFC 6749 §2.3.1"), AS, "high", set_wrong_client_secret,
             expect_error(401, "invalid_client", rule=BAD_BASIC), CONFIDENTIAL, FAMILY),
    Scenario("tok-grant-unsupported", "Unknown grant types get unsupported_grant_type; an empty one "
             "invalid_request.", ("RFC 6749 §5.2",), TE, "low", send_unsupported_grant,
             by_label(expect_error(400, "unsupported_grant_type", rule=UNSUPPORTED_GRANT),
                      empty=expect_error(400, "invalid_request", "unsupported_grant_type", rule=UNSUPPORTED_GRANT)),
             frozenset(), FAMILY),
    Scenario("tok-grant-unauthorized", "A client not registered for the password grant cannot use it.",
             ("RFC 6749 §5.2",), AS, "medium", use_password_grant_as_confidential_client,
             expect_error(400, "unauthorized_client", "unsupported_grant_type", rule=UNAUTHORIZED_CLIENT),
             CONFIDENTIAL, FAMILY),
    Scenario("tok-cc-public-client", "A public client cannot use client_credentials.", ("RFC 6749 §4.4",), AS, "high",
             use_client_credentials_as_public_client,
             expect_error((400, 401), "invalid_client", "unauthorized_client", "unsupported_grant_type",
                          rule=CC_CONFIDENTIAL), CODE_FLOW, FAMILY),
    Scenario("tok-cc-no-refresh", "client_credentials issues no refresh token (SHOULD NOT).", ("RFC 6749 §4.4.3",), AS,
             "low", check_cc_refresh, expect_token(refresh=False), CONFIDENTIAL, FAMILY),
    Scenario("tok-scope-invalid", "An unknown scope at the token endpoint is refused with invalid_scope, or ignored "
             "and the granted scope stated.", ("RFC 6749 §3.3", "RFC 6749 §5.2"), TE, "medium", request_unknown_scope,
             expect_unknown_scope_refused_or_ignored, frozenset(), FAMILY),
    Scenario("tok-get", "GET on the token endpoint issues nothing.", ("RFC 6749 §3.2", "RFC 6749 §2.3.1"), TE, "medium",
             use_get_on_token_endpoint, expect_no_token(rule=POST_ONLY), frozenset(), FAMILY),
    Scenario("tok-duplicate-param", "Repeated token request parameters are invalid_request.", ("RFC 6749 §3.2",),
             TE, "medium", repeat_token_params, expect_error(400, "invalid_request", rule=ONCE_ONLY, keyword="SHOULD"),
             frozenset(), FAMILY),
    Scenario("tok-error-shape", "Errors are 400/401 JSON with an RFC 6749 code and clean descriptions.",
             ("RFC 6749 §5.2",), TE, "low", collect_error_responses, expect_error_shape(), frozenset(), FAMILY),
    Scenario("tok-success-shape", "A successful grant returns access_token, token_type Bearer and expires_in.",
             ("RFC 6749 §5.1",), TE, "medium", obtain_token, expect_success_shape(), frozenset(), FAMILY,
             control=True),
    Scenario("tok-password-bcp", "An authorization server with the code flow does not also offer the password "
             "grant (informational).", ("RFC 9700 §2.4",), AS, "low", try_password_grant,
             expect_no_token(rule=PASSWORD_BCP, issued="deviation"), CODE_FLOW, FAMILY, tags=("informational",)),
    Scenario("tok-password-wrong", "A wrong password is invalid_grant.", ("RFC 6749 §5.2",), TE, "medium",
             send_wrong_password, expect_error(400, "invalid_grant", rule=INVALID_GRANT), PASSWORD, FAMILY,
             tags=("disruptive",)),
    Scenario("tok-password-enumeration", "An unknown user and a wrong password get the same answer.",
             ("RFC 6749 §5.2", "RFC 6749 §10.4"), TE, "medium", compare_unknown_user,
             by_label(expect_error(400, "invalid_grant", rule=INVALID_GRANT), analysis=expect_facts(_enumeration_rule)),
             PASSWORD, FAMILY, tags=("disruptive",)),
    Scenario("tok-password-bruteforce", f"Wrong passwords are throttled within {BRUTE_FORCE_ATTEMPTS} attempts "
             "(429 or 503).", ("RFC 6749 §4.3.2", "RFC 9700 §2.4"), TE, "high", brute_force_password,
             expect_throttled(), PASSWORD, FAMILY, tags=("disruptive",)),
    Scenario("tok-code-expired", f"A code {CODE_AGE} s old (past the RECOMMENDED 10-minute maximum) is refused.",
             ("RFC 6749 §4.1.2",), AS, "medium", age_code,
             expect_error(400, "invalid_grant", rule=CODE_LIFETIME, keyword="SHOULD"), CODE_FLOW, FAMILY,
             tags=("slow",)),
    Scenario("tok-code-reuse-later", "A used code is still refused 65 s, 5 min and 10.5 min after its redemption.",
             ("RFC 6749 §4.1.2",), AS, "high", replay_used_code_later,
             by_label(expect_error(400, "invalid_grant", rule=CODE_ONCE), control=expect_token()), CODE_FLOW, FAMILY,
             tags=("slow",)),
]

NOT_APPLICABLE: dict[str, str] = {
    "tok-client-auth-two-methods": "RFC 6749 §2.3 (\"The client MUST NOT use more than one authentication method in "
                                   "each request\") is a rule on the client: the server may accept or refuse",
    "tok-client-id-mismatch": "RFC 6749 §3.2.1 lets a client send client_id, and no sentence says what the server "
                              "answers when it differs from the authenticated client: every answer is allowed",
}
