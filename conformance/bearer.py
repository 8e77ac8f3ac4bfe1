"""Catalog §10: bearer usage and transport (resource server). RFC 6750 §2 (one method only; the header
form ``Bearer 1*SP b64token``; query and body forms), §3/§3.1 (challenges and error codes), RFC 9110 §11.1
(the scheme is case-insensitive); jwt_tool's persistence checks."""
from __future__ import annotations

import secrets

from harness import checks, forge
from harness.mutations import rs, with_rules
from harness.rskit import RSKit
from harness.scenario import NotApplicable, Observation, Probe, deviation

# RFC 6750 §2.1: credentials = "Bearer" 1*SP b64token. Junk around the valid token is malformed, but the token
# inside is valid: accepting it is a lenient parser (RFC 6750 §3.1 invalid_request "otherwise malformed": the
# server SHOULD answer 400), no forgery.
WRAPPED = checks.lenient('RFC 6750 §2.1: credentials = "Bearer" 1*SP b64token; RFC 6750 §3.1: a malformed request '
                         "gets invalid_request (SHOULD respond with 400)", "SHOULD")
# RFC 6750 §2.1 "1*SP": one or more spaces, so two spaces are valid: every answer passes (accepting is right;
# a refusal breaks no MUST), only a 5xx is reported.
TWO_SPACES = checks.either(200, 400, 401)
# RFC 9110 §11.1: "It uses a case-insensitive token to identify the authentication scheme".
SCHEME_CASE = checks.accepts('RFC 9110 §11.1: "It uses a case-insensitive token to identify the authentication '
                             'scheme" (no MUST: a refusal is a SHOULD deviation)', "SHOULD")
# RFC 6750 §2.2 / §2.3 rules ("GET MUST NOT be used", form encoding, "MUST NOT use more than one method") bind the
# CLIENT; they say nothing about what a server answers. Only a 5xx is reported.
CLIENT_RULE = checks.either(200, 400, 401)


def _valid(kit: RSKit) -> str:
    assert kit.valid_token is not None
    return kit.valid_token


def send_without_token(kit: RSKit) -> list[Probe]:
    return [Probe("no Authorization header", None, expect=checks.missing_token)]


def send_invalid_token(kit: RSKit) -> list[Probe]:
    token = _valid(kit)
    bad = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    return [Probe("an invalid token", bad, expect=checks.all_of(checks.invalid_token, checks.challenge_well_formed)),
            Probe("an unknown opaque-looking token", secrets.token_urlsafe(32),
                  expect=checks.all_of(checks.invalid_token, checks.challenge_well_formed))]


def malform_header(kit: RSKit) -> list[Probe]:
    t = _valid(kit)
    expect = checks.all_of(checks.invalid_request_or_token, checks.no_server_error)
    wrapped = checks.all_of(WRAPPED, checks.no_server_error)
    return [Probe("Authorization: Bearer (no token)", None, headers={"Authorization": "Bearer"}, expect=expect),
            Probe("Authorization: Bearer  t (two spaces: valid, 1*SP)", None, headers={"Authorization": f"Bearer  {t}"},
                  expect=TWO_SPACES)] + \
           [Probe(f"Authorization: {label}", None, headers={"Authorization": value}, expect=wrapped)
            for label, value in (("Bearer t extra", f"Bearer {t} extra"), ("a comma in the token", f"Bearer {t},x"),
                                 ('a quote in the token', f'Bearer "{t}"'))]


def change_scheme_case(kit: RSKit) -> list[Probe]:
    t = _valid(kit)
    return [Probe(f"{scheme} <token>", None, headers={"Authorization": f"{scheme} {t}"}, expect=SCHEME_CASE)
            for scheme in ("bearer", "BEARER", "bEARER")]


TWO_METHODS_RULE = ("RFC 6750 §3.1: invalid_request: the request ... uses more than one method for including an "
                    "access token ... The resource server SHOULD respond with the HTTP 400 (Bad Request) status code")


async def send_token_twice(kit: RSKit) -> list[Probe]:
    """RFC 6750 §2: "Clients MUST NOT use more than one method" binds the client. A server that does not support
    the query method ignores ?access_token= (an unknown parameter), so serving the header's token passes; one that
    supports it SHOULD answer 400 invalid_request (RFC 6750 §3.1): serving it then is a SHOULD deviation."""
    t = _valid(kit)
    only_query = await kit.send_probe(Probe("?access_token= only (is the query method supported?)", None,
                                            query=f"access_token={t}"))
    supports_query = only_query.status is not None and 200 <= only_query.status < 300

    def judge(obs: Observation) -> list[str]:
        if obs.status is not None and 200 <= obs.status < 300:
            if not supports_query:
                return []
            return [deviation(f"status {obs.status}: a token sent by two methods was served", "SHOULD",
                              TWO_METHODS_RULE)]
        return checks.no_server_error(obs)
    return [Probe("header and ?access_token=", t, query=f"access_token={t}", expect=judge)]


CACHE_RULE = ('RFC 6750 §2.3: Server success (2XX status) responses to these requests SHOULD contain a Cache-Control '
              'header with the "private" option')


def _query_answer(obs: Observation) -> list[str]:
    """Refused in any form (the query method is optional, RFC 6750 §2.3 "MAY"); if served, the 2xx SHOULD carry
    Cache-Control: private (RFC 6750 §2.3)."""
    if obs.status is not None and 200 <= obs.status < 300:
        cc = ", ".join(obs.header_values("Cache-Control")).lower()
        return [] if "private" in cc else [deviation(f"a query-string token was served without Cache-Control: "
                                                     f"private (got {cc or 'none'!r})", "SHOULD", CACHE_RULE)]
    return checks.no_server_error(obs)


def move_token_to_query(kit: RSKit) -> list[Probe]:
    return [Probe("only ?access_token=<token>", None, query=f"access_token={_valid(kit)}", expect=_query_answer)]


def move_token_to_body(kit: RSKit) -> list[Probe]:
    t = _valid(kit)
    refused = CLIENT_RULE
    return [Probe("GET with access_token in a form body", None, body=f"access_token={t}",
                  headers={"Content-Type": "application/x-www-form-urlencoded"}, expect=refused),
            Probe("POST with access_token in a JSON body", None, method="POST", body=f'{{"access_token":"{t}"}}',
                  headers={"Content-Type": "application/json"}, expect=refused),
            Probe("POST with access_token in a multipart body", None, method="POST",
                  body=f'--b\r\nContent-Disposition: form-data; name="access_token"\r\n\r\n{t}\r\n--b--\r\n',
                  headers={"Content-Type": "multipart/form-data; boundary=b"}, expect=refused),
            Probe("POST form body (optional support; never a 5xx)", None, method="POST", body=f"access_token={t}",
                  headers={"Content-Type": "application/x-www-form-urlencoded"}, expect=checks.no_server_error)]


def _bearer_challenge_401(obs: Observation) -> list[str]:
    """Another scheme carries no Bearer credentials. Serving it breaks no rule of RFC 6750 (the token is valid);
    refusing it MUST carry a WWW-Authenticate header (RFC 6750 §3), and a Bearer challenge tells the client what
    to use. No error code is needed (the request has no Bearer credentials: RFC 6750 §3.1)."""
    if obs.status is None:
        return checks.no_server_error(obs)
    if 200 <= obs.status < 300:
        return []
    if obs.status >= 500:
        return checks.no_server_error(obs)
    if not checks.bearer_challenges(obs):
        got = list(obs.header_values("WWW-Authenticate"))
        return [deviation(f"status {obs.status} without a Bearer challenge (WWW-Authenticate: {got or 'none'})",
                          rule=checks.CHALLENGE_RULE)]
    return []


def use_wrong_scheme(kit: RSKit) -> list[Probe]:
    t = _valid(kit)
    return [Probe(f"{scheme} <token>", None, headers={"Authorization": f"{scheme} {t}"}, expect=_bearer_challenge_401)
            for scheme in ("Basic", "Token", "JWT", "DPoP")]


def move_token_to_cookie(kit: RSKit) -> list[Probe]:
    t = _valid(kit)
    return [Probe(f"Cookie {name}=<token> only", None, headers={"Cookie": f"{name}={t}"}, expect=COOKIE)
            for name in ("access_token", "token", "jwt", "Authorization")]


COOKIE_RULE = ("RFC 6750 §5.3: Don't store bearer tokens in cookies (advice, SHOULD: a resource server that reads them "
               "from a cookie invites it, and any site can then make the browser send them: cross-site request "
               "forgery)")


def COOKIE(obs: Observation) -> list[str]:
    """Served from a cookie: a SHOULD deviation (RFC 6750 §5.3 is advice to implementations, not a MUST on what a
    server answers); refused in any form passes."""
    if obs.status is not None and 200 <= obs.status < 300:
        return [deviation(f"status {obs.status}: a token sent only in a cookie was served", "SHOULD", COOKIE_RULE)]
    return checks.no_server_error(obs)


def send_over_plain_http(kit: RSKit) -> list[Probe]:
    if not kit.target.base_url.startswith("https://"):
        raise NotApplicable("the target itself is configured on plain http (local testing); profile its https URL "
                            "to check that http is refused")
    http_url = "http://" + kit.target.base_url[len("https://"):] + kit.profile.endpoint
    return [Probe("the valid token over http://", _valid(kit), path=http_url, expect=checks.not_accepted)]


def replay_after_forgeries(kit: RSKit) -> list[Probe]:
    """>= 100 forged submissions, then the original: still 200 (no fail-open, no lock-out of the good token)."""
    token = _valid(kit)
    if kit.phase == "before":  # before the attacks: only that the valid token works (the forgeries come after)
        return [Probe("the valid token, before the attacks", token, expect=checks.ok)]
    probes = []
    for i in range(100):
        if "jwt" in kit.capabilities:
            h, p, s = forge.split(token)
            forged = f"{h}.{p}.{s[:-6]}{secrets.token_urlsafe(6)[:6]}" if i % 2 else f"{h}.{p}."
        else:
            forged = secrets.token_urlsafe(len(token) * 3 // 4 or 32)
        probes.append(Probe(f"forged submission {i + 1}", forged))
    probes.append(Probe("the original token after 100 forgeries", token, expect=checks.ok))
    return probes


SCENARIOS = [
    rs(id="bearer-no-auth", summary="No credentials: 401 with a bare Bearer challenge and no error code.",
       refs=("RFC 6750 §3", "RFC 6750 §3.1"), severity="medium", mutate=send_without_token,
       expect=checks.missing_token, needs=("resource",)),
    rs(id="bearer-challenge-format", summary="An invalid token gets exactly one Bearer challenge with "
       "error=\"invalid_token\".", refs=("RFC 6750 §3", "RFC 9068 §4"), severity="low",
       mutate=send_invalid_token, needs=("valid_token",)),
    rs(id="bearer-malformed-header", summary="Malformed Bearer credentials get 400 invalid_request (or 401); "
       "two spaces are valid.", refs=("RFC 6750 §2.1", "RFC 6750 §3.1"), severity="low",
       mutate=malform_header, needs=("valid_token",)),
    rs(id="bearer-scheme-case", summary="The Bearer scheme is matched case-insensitively.",
       refs=("RFC 9110 §11.1",), severity="low", mutate=change_scheme_case, expect=checks.ok,
       needs=("valid_token",)),
    rs(id="bearer-two-methods", summary="A token in the header and the query: 400 invalid_request where the "
       "query method is supported; ignored otherwise.", refs=("RFC 6750 §2", "RFC 6750 §3.1"), severity="low",
       mutate=send_token_twice, needs=("valid_token",)),
    rs(id="bearer-query", summary="A token only in the query is not served (or served with Cache-Control: "
       "private).", refs=("RFC 6750 §2.3", "RFC 9700 §2"), severity="medium", mutate=move_token_to_query,
       needs=("valid_token",)),
    rs(id="bearer-body-rules", summary="Body tokens with GET, JSON or multipart never cause a 5xx (the rules "
       "bind the client).", refs=("RFC 6750 §2.2",), severity="low", mutate=move_token_to_body,
       needs=("valid_token",)),
    rs(id="bearer-wrong-scheme", summary="Basic/Token/JWT/DPoP schemes, when refused, get a Bearer "
       "challenge.", refs=("RFC 6750 §3",), severity="low", mutate=use_wrong_scheme, needs=("valid_token",)),
    rs(id="bearer-cookie-only", summary="A token only in a cookie is not accepted.", refs=("RFC 6750 §5.3",),
       severity="medium", mutate=move_token_to_cookie, needs=("valid_token",)),
    rs(id="bearer-plain-http", summary="The resource refuses tokens over plain http.",
       refs=("RFC 6749 §10.3", "RFC 6750 §5.3"), severity="high", mutate=send_over_plain_http,
       needs=("valid_token",)),
    rs(id="bearer-persistence", summary="After 100 forged tokens the valid one still works (before and after "
       "the attacks).", refs=("RFC 6750 §3.1",), severity="high", mutate=replay_after_forgeries,
       needs=("valid_token",), control=True),
]

NOT_APPLICABLE = {
    "bearer-revoked": "revocation is triggered on the authorization server (tok-code-reuse-revokes on the AS side "
                      "checks the revoked token at the resource server)",
}

# The sentence each expectation rests on, with its keyword (audited against the RFC text).
RULES = {
    "bearer-no-auth": "RFC 6750 §3: MUST include the WWW-Authenticate response header field; §3.1: SHOULD NOT "
                      "include an error code when the request lacks authentication information",
    "bearer-challenge-format": 'RFC 6750 §3: SHOULD include the "error" attribute; the attributes MUST NOT appear '
                               "more than once",
    "bearer-malformed-header": 'RFC 6750 §2.1: credentials = "Bearer" 1*SP b64token; §3.1 invalid_request: SHOULD '
                               "respond with 400",
    "bearer-scheme-case": "RFC 9110 §11.1: It uses a case-insensitive token to identify the authentication scheme "
                          "(no MUST: a refusal is a SHOULD deviation)",
    "bearer-two-methods": TWO_METHODS_RULE + " (RFC 6750 §2's MUST NOT binds the client)",
    "bearer-query": CACHE_RULE,
    "bearer-body-rules": "RFC 6750 §2.2: the rules bind the client (no rule for the server: only a 5xx is reported)",
    "bearer-wrong-scheme": "RFC 6750 §3: MUST include the WWW-Authenticate response header field",
    "bearer-cookie-only": COOKIE_RULE,
    "bearer-plain-http": "RFC 6750 §5.3: Always use TLS (https); RFC 6749 §10.3: Access token credentials MUST only "
                         "be transmitted using TLS",
    "bearer-persistence": "RFC 6750 §3.1: an invalid token is refused and a valid one keeps working",
}
SCENARIOS = with_rules(SCENARIOS, RULES)
