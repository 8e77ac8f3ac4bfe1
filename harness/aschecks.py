"""Expectations of authorization-server and token-endpoint scenarios, graded by what the target did.

Each factory returns a ``Check``: a function of one ``Observation`` returning the problems found (``[]`` = an
answer the RFC allows). Every problem says what it means (``harness.scenario.Problem``):

- ``vulnerability``: the attack got through: a token or code was issued, a redirect (even an error
  redirect) went to a URI that is not the registered one, a credential was re-posted to the client;
- ``deviation(keyword=...)``: the attack was refused, but not as the RFC prescribes (another status, error
  code or challenge); the keyword is the one of the sentence the expectation rests on, so a SHOULD is never
  more than informational.

Every factory takes ``rule=``: the RFC sentence the expectation rests on, quoted in the report. Where the RFC
leaves the server a choice the factories accept every allowed answer (an error page or an error redirect to
the registered URI; ``invalid_request`` or ``invalid_grant`` where both fit, by listing both).

Conventions: an observation whose label starts with ``control:`` is a step that must SUCCEED (``by_label``
routes it); ``analysis(...)`` builds an observation from several real ones when the rule is about a series
(exactly one of ten concurrent redemptions succeeds; twenty codes are unique). Authorization responses come
as ``AuthzObservation``: they know the redirect URI that was sent and the registered one, so a redirect can
be told apart from an open redirect.

The token-endpoint expectations are here; the authorization-endpoint ones are in ``harness.authzchecks`` and
the readers of an answer in ``harness.asobs``: both are re-exported, so a family imports its vocabulary from
this one module.
"""
from __future__ import annotations

import re
from typing import Iterable

from .asobs import (AuthzObservation, _no_response, _short, analysis, expect_facts, header, json_body,  # noqa: F401
                    location_params, redirect_goes_to, token_scope)
from .authzchecks import (ABSENT, ANY, ERROR_REDIRECT, NO_307, NO_REDIRECT, STATE_ECHO, expect_code,  # noqa: F401
                          expect_error_redirect, expect_no_code, expect_no_redirect, expect_redirect_status,
                          expect_refused)
from .expect import all_of, any_of, by_label  # noqa: F401 - part of this module's vocabulary
from .scenario import Check, Keyword, Observation, deviation, vulnerability


# RFC 6749 §5.2 error codes of the token endpoint, and §4.1.2.1 of the authorization endpoint.
TOKEN_ERRORS = frozenset({"invalid_request", "invalid_client", "invalid_grant", "unauthorized_client",
                          "unsupported_grant_type", "invalid_scope"})
AUTHZ_ERRORS = frozenset({"invalid_request", "unauthorized_client", "access_denied", "unsupported_response_type",
                          "invalid_scope", "server_error", "temporarily_unavailable"})
# RFC 6749 §5.2: error_description and error_uri use %x20-21 / %x23-5B / %x5D-7E only.
DESCRIPTION_OK = re.compile(r'^[\x20-\x21\x23-\x5b\x5d-\x7e]*$')
VSCHAR = re.compile(r'^[\x20-\x7e]+$')

ERROR_RESPONSE = ('RFC 6749 §5.2: "The authorization server responds with an HTTP 400 (Bad Request) status code '
                  '(unless specified otherwise) and includes the following parameters with the response: error '
                  'REQUIRED"')
CLIENT_CHALLENGE = ('RFC 6749 §5.2: "If the client attempted to authenticate via the "Authorization" request header '
                    'field, the authorization server MUST respond with an HTTP 401 (Unauthorized) status code and '
                    'MUST include the WWW-Authenticate response header field matching the authentication scheme '
                    'used by the client."')
TOKEN_RESPONSE = ('RFC 6749 §5.1: "The authorization server issues an access token and optional refresh token, '
                  'and constructs the response by adding the following parameters to the entity-body of the HTTP '
                  'response with a 200 (OK) status code"')
NO_STORE = ('RFC 6749 §5.1: "The authorization server MUST include the HTTP "Cache-Control" response header field '
            'with a value of "no-store" in any response containing tokens, credentials, or other sensitive '
            'information"')


# -- token endpoint ------------------------------------------------------------------------------------------
def _token_issued(obs: Observation, rule: str, issued: str = "vulnerability", keyword: Keyword = "MUST") -> list[str]:
    """A token in the answer: the attack got through (or, where the rule does not make that an attack, a
    deviation: ``issued="deviation"``, or a rule that is only a SHOULD)."""
    body = json_body(obs)
    if "access_token" not in body:
        return []
    text = f"status {obs.status}: an access_token was issued"
    if issued == "deviation" or keyword == "SHOULD":
        return [deviation(text, keyword, rule)]
    return [vulnerability(text, rule)]


def expect_error(status: int | Iterable[int], *errors: str, rule: str = ERROR_RESPONSE,
                 keyword: Keyword = "MUST", www_authenticate: str | None = None,
                 issued: str = "vulnerability") -> Check:
    """Refused: nothing issued (else a vulnerability), one of ``status`` with JSON ``error`` in ``errors`` (else
    a deviation from ``rule``). A 401 to a client that sent an ``Authorization`` header carries a
    ``WWW-Authenticate`` challenge of that scheme (RFC 6749 §5.2); ``www_authenticate`` names the scheme
    expected when the request had none. ``issued="deviation"``: a token issued anyway breaks the rule but
    is no attack (duplicate parameters with the same value, say)."""
    statuses = {status} if isinstance(status, int) else set(status)
    allowed = set(errors)
    want = f"{'/'.join(map(str, sorted(statuses)))} {'/'.join(sorted(allowed))}".strip()

    def check(obs: Observation) -> list[str]:
        problems = _no_response(obs) or _token_issued(obs, rule, issued, keyword)
        if problems:
            return problems
        body = json_body(obs)
        if obs.status not in statuses:
            got = f" ({_short(body.get('error'))})" if body.get("error") else ""
            return [deviation(f"refused with status {obs.status}{got}, expected {want}", keyword, rule)]
        if allowed and body.get("error") not in allowed:
            problems.append(deviation(f"refused with error {_short(body.get('error'))!r}, expected "
                                      f"{'/'.join(sorted(allowed))}", keyword, rule))
        if obs.status == 401:
            problems += _challenge_problems(obs, www_authenticate)
        return problems
    return check


def _challenge_problems(obs: Observation, scheme: str | None) -> list[str]:
    sent = next((v for k, v in obs.request_headers.items() if k.lower() == "authorization"), None)
    scheme = sent.split(" ", 1)[0] if sent else scheme
    if not sent:
        return []   # the header is required only when the client authenticated with it
    challenge = header(obs, "WWW-Authenticate")
    if not challenge:
        return [deviation("401 without WWW-Authenticate although the client authenticated with the "
                          "Authorization header", "MUST", CLIENT_CHALLENGE)]
    schemes = [c.strip().split(" ", 1)[0].lower() for c in obs.header_values("WWW-Authenticate")]
    if scheme and scheme.lower() not in schemes:
        return [deviation(f"WWW-Authenticate {_short(challenge)!r} does not match the client's {scheme} scheme",
                          "MUST", CLIENT_CHALLENGE)]
    return []


def expect_token(*, refresh: bool | None = None, rule: str = TOKEN_RESPONSE) -> Check:
    """A valid request succeeds (RFC 6749 §5.1): 200 with access_token and token_type (case-insensitive
    Bearer, or DPoP). A refusal is a deviation from ``rule``. ``refresh``: True = a refresh_token must be there;
    False = RFC 6749 §4.4.3 "A refresh token SHOULD NOT be included" (a deviation from a SHOULD)."""
    def check(obs: Observation) -> list[str]:
        problems = _no_response(obs)
        if problems:
            return problems
        body = json_body(obs)
        if obs.status != 200:
            return [deviation(f"status {obs.status} {_short(body.get('error', obs.body[:80]))}: a valid request "
                              "was refused", "MUST", rule)]
        if not isinstance(body.get("access_token"), str) or not body["access_token"]:
            problems.append(deviation("no access_token", "MUST", rule))
        if str(body.get("token_type", "")).lower() not in ("bearer", "dpop"):
            problems.append(deviation(f"token_type {_short(body.get('token_type'))!r}, expected Bearer", "MUST",
                                      rule))
        if refresh is True and not body.get("refresh_token"):
            problems.append(deviation("no refresh_token", "MUST", rule))
        if refresh is False and "refresh_token" in body:
            problems.append(deviation("a refresh_token was issued to client_credentials", "SHOULD",
                                      'RFC 6749 §4.4.3: "A refresh token SHOULD NOT be included."'))
        return problems
    return check


def expect_no_token(*statuses: int, rule: str = "", keyword: Keyword = "MUST", issued: str = "vulnerability") -> Check:
    """Refused: nothing served (else a vulnerability, or a deviation with ``issued="deviation"``); a 4xx among
    ``statuses`` if given (else a deviation)."""
    def check(obs: Observation) -> list[str]:
        problems = _no_response(obs) or _token_issued(obs, rule, issued, keyword)
        if problems:
            return problems
        if 200 <= obs.status < 300:
            text = f"status {obs.status}: the request was served"
            return [deviation(text, keyword, rule) if issued == "deviation" else vulnerability(text, rule)]
        if statuses and obs.status not in statuses:
            return [deviation(f"refused with status {obs.status}, expected {'/'.join(map(str, statuses))}",
                              keyword, rule)]
        return []
    return check


def expect_success_shape() -> Check:
    """RFC 6749 §5.1: 200, access_token and token_type REQUIRED, expires_in RECOMMENDED (a positive integer),
    application/json."""
    base = expect_token()

    def check(obs: Observation) -> list[str]:
        problems = base(obs)
        if problems:
            return problems
        body = json_body(obs)
        exp = body.get("expires_in")
        if "expires_in" not in body:
            problems.append(deviation("no expires_in", "SHOULD", 'RFC 6749 §5.1: "expires_in RECOMMENDED."'))
        elif not isinstance(exp, int) or isinstance(exp, bool) or exp <= 0:
            problems.append(deviation(f"expires_in {_short(exp)!r} is not a lifetime in seconds", "MUST",
                                      'RFC 6749 §5.1: "expires_in ... The lifetime in seconds of the access token."'))
        if "json" not in (header(obs, "Content-Type") or "").lower():
            problems.append(deviation("not application/json", "MUST", 'RFC 6749 §5.1: "The parameters are included '
                                      'in the entity-body of the HTTP response using the "application/json" media '
                                      'type"'))
        return problems
    return check


def expect_error_shape() -> Check:
    """RFC 6749 §5.2: 400 (401 for invalid_client), application/json, a registered error code, and an
    error_description/error_uri in the allowed characters only (no CR, LF, TAB, quote or backslash)."""
    def check(obs: Observation) -> list[str]:
        problems = _no_response(obs) or _token_issued(obs, ERROR_RESPONSE)
        if problems:
            return problems
        body = json_body(obs)
        ctype = header(obs, "Content-Type") or ""
        if "application/json" not in ctype.lower():
            problems.append(deviation(f"Content-Type {_short(ctype)!r}, expected application/json", "MUST",
                                      'RFC 6749 §5.2: "The parameters are included in the entity-body of the HTTP '
                                      'response using the "application/json" media type"'))
        err = body.get("error")
        if err not in TOKEN_ERRORS:
            problems.append(deviation(f"error {_short(err)!r} is not an RFC 6749 §5.2 code", "MUST", ERROR_RESPONSE))
        expected_status = {401, 400} if err == "invalid_client" else {400}
        if obs.status not in expected_status:
            problems.append(deviation(f"status {obs.status} for {err}, expected "
                                      f"{'/'.join(map(str, sorted(expected_status)))}", "MUST", ERROR_RESPONSE))
        for name in ("error_description", "error_uri"):
            if name in body and (not isinstance(body[name], str) or not DESCRIPTION_OK.match(body[name])):
                problems.append(deviation(f"{name} has characters outside %x20-21/%x23-5B/%x5D-7E", "MUST",
                                          f'RFC 6749 §5.2: "Values for the "{name}" parameter MUST NOT include '
                                          'characters outside the set %x20-21 / %x23-5B / %x5D-7E."'))
        return problems
    return check


def expect_no_store() -> Check:
    """RFC 6749 §5.1: ``Cache-Control: no-store`` on a response carrying tokens. (The ``Pragma: no-cache`` of
    the same sentence is obsolete, RFC 9111 §5.4, and not checked.)"""
    def check(obs: Observation) -> list[str]:
        problems = _no_response(obs)
        if problems:
            return problems
        cc = (header(obs, "Cache-Control") or "").lower()
        if "no-store" not in [d.strip() for d in cc.split(",")]:
            return [deviation(f"Cache-Control {cc!r} lacks no-store on a response with tokens", "MUST", NO_STORE)]
        return []
    return check


def expect_throttled() -> Check:
    """Brute force is slowed down: RFC 6749 §4.3.2 "MUST protect the endpoint against brute force attacks
    (e.g., using rate-limitation or generating alerts)". A 429 or 503 passes (RFC 6585 §4: Retry-After MAY)."""
    rule = ('RFC 6749 §4.3.2: "the authorization server MUST protect the endpoint against brute force attacks '
            '(e.g., using rate-limitation or generating alerts)."')

    def check(obs: Observation) -> list[str]:
        if obs.status is None:
            return _no_response(obs)
        if "access_token" in json_body(obs):
            return [vulnerability("a token was issued", rule)]
        if obs.status in (429, 503):
            return []
        return [vulnerability(f"still {obs.status} {json_body(obs).get('error', '')} at the last attempt: no "
                              "throttling or lockout", rule)]
    return check


