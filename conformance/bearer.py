"""Catalog §10: bearer usage and transport (resource server). RFC 6750 §2 (one method only; the header
form ``Bearer 1*SP b64token``; query and body forms), §3/§3.1 (challenges and error codes), RFC 9110 §11.1
(the scheme is case-insensitive); jwt_tool's persistence checks."""
from __future__ import annotations

import secrets

from harness import checks, forge
from harness.mutations import rs
from harness.rskit import RSKit
from harness.scenario import NotApplicable, Observation, Probe


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
    return [Probe(f"Authorization: {label}", None, headers={"Authorization": value}, expect=expect)
            for label, value in (("Bearer (no token)", "Bearer"), ("Bearer  t (two spaces)", f"Bearer  {t}"),
                                 ("Bearer t extra", f"Bearer {t} extra"), ("a comma in the token", f"Bearer {t},x"),
                                 ('a quote in the token', f'Bearer "{t}"'))]


def change_scheme_case(kit: RSKit) -> list[Probe]:
    t = _valid(kit)
    return [Probe(f"{scheme} <token>", None, headers={"Authorization": f"{scheme} {t}"}, expect=checks.ok)
            for scheme in ("bearer", "BEARER", "bEARER")]


def send_token_twice(kit: RSKit) -> list[Probe]:
    t = _valid(kit)
    return [Probe("header and ?access_token=", t, query=f"access_token={t}",
                  expect=checks.bearer_error("invalid_request", 400))]


def _query_answer(obs: Observation) -> list[str]:
    """Not served (4xx); if served, the 2xx carries Cache-Control: private (RFC 6750 §2.3)."""
    if obs.status is not None and 200 <= obs.status < 300:
        cc = ", ".join(obs.header_values("Cache-Control")).lower()
        return [] if "private" in cc else [f"a query-string token was served without Cache-Control: private "
                                           f"(got {cc or 'none'!r})"]
    return checks.all_of(checks.no_server_error, checks.status_is(400, 401))(obs)


def move_token_to_query(kit: RSKit) -> list[Probe]:
    return [Probe("only ?access_token=<token>", None, query=f"access_token={_valid(kit)}", expect=_query_answer)]


def move_token_to_body(kit: RSKit) -> list[Probe]:
    t = _valid(kit)
    refused = checks.not_accepted
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
    problems = checks.status_is(401)(obs)
    if obs.status == 401 and not checks.bearer_challenges(obs):
        problems.append(f"no Bearer challenge (WWW-Authenticate: {list(obs.header_values('WWW-Authenticate'))})")
    return problems


def use_wrong_scheme(kit: RSKit) -> list[Probe]:
    t = _valid(kit)
    return [Probe(f"{scheme} <token>", None, headers={"Authorization": f"{scheme} {t}"}, expect=_bearer_challenge_401)
            for scheme in ("Basic", "Token", "JWT", "DPoP")]


def move_token_to_cookie(kit: RSKit) -> list[Probe]:
    t = _valid(kit)
    return [Probe(f"Cookie {name}=<token> only", None, headers={"Cookie": f"{name}={t}"}, expect=checks.not_accepted)
            for name in ("access_token", "token", "jwt", "Authorization")]


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
    rs("bearer-no-auth", "No credentials: 401 with a bare Bearer challenge and no error code.",
       ("RFC 6750 §3", "RFC 6750 §3.1"), "medium", send_without_token, expect=checks.missing_token, needs=("resource",)),
    rs("bearer-challenge-format", "An invalid token gets exactly one Bearer challenge with error=\"invalid_token\".",
       ("RFC 6750 §3", "RFC 9068 §4"), "low", send_invalid_token, needs=("valid_token",)),
    rs("bearer-malformed-header", "Malformed Bearer credentials get 400 invalid_request (or 401).",
       ("RFC 6750 §2.1", "RFC 6750 §3.1"), "low", malform_header, needs=("valid_token",)),
    rs("bearer-scheme-case", "The Bearer scheme is matched case-insensitively.", ("RFC 9110 §11.1",), "low",
       change_scheme_case, expect=checks.ok, needs=("valid_token",)),
    rs("bearer-two-methods", "A token in the header and the query is 400 invalid_request.", ("RFC 6750 §2", "RFC 6750 §3.1"),
       "low", send_token_twice, needs=("valid_token",)),
    rs("bearer-query", "A token only in the query is not served (or served with Cache-Control: private).",
       ("RFC 6750 §2.3", "RFC 9700 §2"), "medium", move_token_to_query, needs=("valid_token",)),
    rs("bearer-body-rules", "Body tokens with GET, JSON or multipart are refused.", ("RFC 6750 §2.2",), "low",
       move_token_to_body, needs=("valid_token",)),
    rs("bearer-wrong-scheme", "Basic/Token/JWT/DPoP schemes get 401 with a Bearer challenge.", ("RFC 6750 §3",), "low",
       use_wrong_scheme, needs=("valid_token",)),
    rs("bearer-cookie-only", "A token only in a cookie is not accepted.", ("RFC 6750 §5.3",), "medium",
       move_token_to_cookie, needs=("valid_token",)),
    rs("bearer-plain-http", "The resource refuses tokens over plain http.", ("RFC 6749 §10.3", "RFC 6750 §5.3"), "high",
       send_over_plain_http, needs=("valid_token",)),
    rs("bearer-persistence", "After 100 forged tokens the valid one still works (before and after the attacks).",
       ("RFC 6750 §3.1",), "high", replay_after_forgeries, needs=("valid_token",), control=True),
]

NOT_APPLICABLE = {
    "bearer-revoked": "revocation is triggered on the authorization server (tok-code-reuse-revokes on the AS side "
                      "checks the revoked token at the resource server)",
}
