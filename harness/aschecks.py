"""Check constructors for authorization-server and token-endpoint scenarios.

Each constructor returns a ``Check``: a function of one ``Observation`` returning the problems found
(``[]`` = as a secure server answers). They read only the observation, so a scenario's expectation is
plain data: ``expect_error(400, "invalid_grant")``, ``expect_error_redirect("invalid_request", state=S)``,
``expect_no_redirect()``, ``expect_no_store()``.

Two conventions let one scenario say more than "every answer is X":

- labels: an observation whose label starts with ``control:`` is a step that must SUCCEED (the same code
  redeemed correctly after a refused attempt, say); ``analysis:`` marks a derived observation (see
  ``analysis``). ``by_label`` routes each observation to the right check.
- ``analysis(...)`` builds an observation from several real ones when the rule is about the series
  (exactly one of ten concurrent redemptions succeeds; the unknown-user answer equals the wrong-password
  answer; twenty codes are unique and long enough). Its ``json`` holds the measured facts, its other
  fields are those of the last real request, so the evidence still shows what was sent.
"""
from __future__ import annotations

import json as jsonlib
import re
from typing import Any, Callable, Iterable
from urllib.parse import parse_qsl, urlsplit

from .expect import all_of, any_of, by_label  # noqa: F401 - part of this module's vocabulary
from .scenario import Check, Observation

ANY = object()          # state=ANY: do not look at state
ABSENT = None           # state=ABSENT: the response must carry no state

# RFC 6749 §5.2 error codes of the token endpoint, and §4.1.2.1 of the authorization endpoint.
TOKEN_ERRORS = frozenset({"invalid_request", "invalid_client", "invalid_grant", "unauthorized_client",
                          "unsupported_grant_type", "invalid_scope"})
AUTHZ_ERRORS = frozenset({"invalid_request", "unauthorized_client", "access_denied", "unsupported_response_type",
                          "invalid_scope", "server_error", "temporarily_unavailable"})
# RFC 6749 §5.2: error_description and error_uri use %x20-21 / %x23-5B / %x5D-7E only.
DESCRIPTION_OK = re.compile(r'^[\x20-\x21\x23-\x5b\x5d-\x7e]*$')
VSCHAR = re.compile(r'^[\x20-\x7e]+$')


def _short(value: Any, n: int = 60) -> str:
    text = str(value)
    return text if len(text) <= n else text[:n] + "..."


def _status_problem(obs: Observation) -> list[str]:
    if obs.status is None:
        return [f"no response ({obs.error})"]
    if obs.status >= 500:
        return [f"server error {obs.status} (a bad request must never cause a 5xx)"]
    return []


def location_params(obs: Observation) -> dict[str, str] | None:
    """Parameters of the redirect in ``obs`` (query, then fragment; first value wins), or None."""
    loc = obs.headers.get("Location")
    if obs.status is None or not (300 <= obs.status < 400) or not loc:
        return None
    parts = urlsplit(loc)
    params: dict[str, str] = {}
    for source in (parts.query, parts.fragment):
        for k, v in parse_qsl(source, keep_blank_values=True):
            params.setdefault(k, v)
    return params


def header(obs: Observation, name: str) -> str | None:
    for k, v in obs.headers.items():
        if k.lower() == name.lower():
            return v
    return None


def json_body(obs: Observation) -> dict:
    if isinstance(obs.json, dict):
        return obs.json
    try:
        value = jsonlib.loads(obs.body)
    except (ValueError, TypeError):
        return {}
    return value if isinstance(value, dict) else {}


# -- combinators -------------------------------------------------------------------------------------------
def analysis(label: str, facts: dict, basis: Observation) -> Observation:
    """A derived observation: ``facts`` measured over several requests, with the last request as context."""
    body = jsonlib.dumps(facts, default=str)
    return Observation(label=f"analysis: {label}", method=basis.method, url=basis.url,
                       request_headers=basis.request_headers, request_body=basis.request_body,
                       status=basis.status, headers=basis.headers, body=body[:4096], elapsed=basis.elapsed,
                       error=basis.error, json=facts)


def expect_facts(rule: Callable[[dict], list[str]]) -> Check:
    """Judge an analysis observation with ``rule(facts)``."""
    def check(obs: Observation) -> list[str]:
        if not isinstance(obs.json, dict):
            return ["no analysis facts recorded"]
        return rule(obs.json)
    return check


# -- token endpoint ------------------------------------------------------------------------------------------
def expect_error(status: int | Iterable[int], *errors: str, www_authenticate: str | None = None) -> Check:
    """An error answer: one of ``status``, JSON ``error`` in ``errors``; a 401 carries WWW-Authenticate
    (RFC 6749 §5.2), starting with ``www_authenticate`` if given."""
    statuses = {status} if isinstance(status, int) else set(status)
    allowed = set(errors)

    def check(obs: Observation) -> list[str]:
        problems = _status_problem(obs)
        if problems:
            return problems
        body = json_body(obs)
        if obs.status not in statuses:
            got = f" ({body.get('error')})" if body.get("error") else ""
            if "access_token" in body:
                got += " WITH an access_token"
            return [f"status {obs.status}{got}, expected {'/'.join(map(str, sorted(statuses)))} "
                    f"{'/'.join(sorted(allowed))}"]
        if allowed and body.get("error") not in allowed:
            problems.append(f"error {_short(body.get('error'))!r}, expected {'/'.join(sorted(allowed))}")
        if "access_token" in body:
            problems.append("an access_token was issued")
        if obs.status == 401:
            challenge = header(obs, "WWW-Authenticate")
            if not challenge:
                problems.append("401 without WWW-Authenticate (RFC 6749 §5.2)")
            elif www_authenticate and not challenge.lower().startswith(www_authenticate.lower()):
                problems.append(f"WWW-Authenticate {_short(challenge)!r}, expected a {www_authenticate} challenge")
        return problems
    return check


def expect_token(*, refresh: bool | None = None) -> Check:
    """RFC 6749 §5.1: 200 with access_token and token_type Bearer (case-insensitive). ``refresh``: True =
    a refresh_token must be there, False = must not be (client_credentials, §4.4.3)."""
    def check(obs: Observation) -> list[str]:
        problems = _status_problem(obs)
        if problems:
            return problems
        body = json_body(obs)
        if obs.status != 200:
            return [f"status {obs.status} {_short(body.get('error', obs.body[:80]))}, expected 200 with tokens"]
        if not isinstance(body.get("access_token"), str) or not body["access_token"]:
            problems.append("no access_token")
        if str(body.get("token_type", "")).lower() != "bearer":
            problems.append(f"token_type {_short(body.get('token_type'))!r}, expected Bearer")
        if refresh is True and not body.get("refresh_token"):
            problems.append("no refresh_token")
        if refresh is False and "refresh_token" in body:
            problems.append("a refresh_token was issued (RFC 6749 §4.4.3: SHOULD NOT)")
        return problems
    return check


def expect_no_token(*statuses: int) -> Check:
    """Refused: a 4xx (one of ``statuses`` if given) and no access_token."""
    def check(obs: Observation) -> list[str]:
        problems = _status_problem(obs)
        if problems:
            return problems
        body = json_body(obs)
        if "access_token" in body or (obs.status is not None and 200 <= obs.status < 300):
            return [f"status {obs.status}: the request was served" + (" and a token issued"
                                                                      if "access_token" in body else "")]
        if statuses and obs.status not in statuses:
            return [f"status {obs.status}, expected {'/'.join(map(str, statuses))}"]
        return []
    return check


def expect_success_shape() -> Check:
    """RFC 6749 §5.1: 200, access_token, token_type Bearer, expires_in a positive integer."""
    base = expect_token()

    def check(obs: Observation) -> list[str]:
        problems = base(obs)
        if problems:
            return problems
        body = json_body(obs)
        exp = body.get("expires_in")
        if not isinstance(exp, int) or isinstance(exp, bool) or exp <= 0:
            problems.append(f"expires_in {_short(exp)!r}, expected a positive integer (RFC 6749 §5.1)")
        if "json" not in (header(obs, "Content-Type") or "").lower():
            problems.append("not application/json")
        return problems
    return check


def expect_error_shape() -> Check:
    """RFC 6749 §5.2: 400 (401 for invalid_client), application/json, a registered error code, and an
    error_description/error_uri in the allowed characters only (no CR, LF, TAB, quote or backslash)."""
    def check(obs: Observation) -> list[str]:
        problems = _status_problem(obs)
        if problems:
            return problems
        body = json_body(obs)
        ctype = header(obs, "Content-Type") or ""
        if "application/json" not in ctype.lower():
            problems.append(f"Content-Type {_short(ctype)!r}, expected application/json")
        err = body.get("error")
        if err not in TOKEN_ERRORS:
            problems.append(f"error {_short(err)!r} is not an RFC 6749 §5.2 code")
        expected_status = {401, 400} if err == "invalid_client" else {400}
        if obs.status not in expected_status:
            problems.append(f"status {obs.status} for {err}, expected {'/'.join(map(str, sorted(expected_status)))}")
        for name in ("error_description", "error_uri"):
            if name in body and (not isinstance(body[name], str) or not DESCRIPTION_OK.match(body[name])):
                problems.append(f"{name} has characters outside %x20-21/%x23-5B/%x5D-7E")
        return problems
    return check


def expect_no_store(*, pragma: bool = True) -> Check:
    """RFC 6749 §5.1: ``Cache-Control: no-store`` and ``Pragma: no-cache`` on token responses."""
    def check(obs: Observation) -> list[str]:
        problems = _status_problem(obs)
        if problems:
            return problems
        cc = (header(obs, "Cache-Control") or "").lower()
        if "no-store" not in [d.strip() for d in cc.split(",")]:
            problems.append(f"Cache-Control {cc!r} lacks no-store")
        if pragma and (header(obs, "Pragma") or "").lower().strip() != "no-cache":
            problems.append(f"Pragma {header(obs, 'Pragma')!r}, expected no-cache")
        return problems
    return check


def expect_throttled() -> Check:
    """Brute force is slowed down: 429 (or 503) with Retry-After, RFC 6749 §4.3.2 / RFC 6585 §4."""
    def check(obs: Observation) -> list[str]:
        if obs.status is None:
            return [f"no response ({obs.error})"]
        if "access_token" in json_body(obs):
            return ["a token was issued"]
        if obs.status in (429, 503) and header(obs, "Retry-After"):
            return []
        if obs.status in (429, 503):
            return [f"{obs.status} without Retry-After"]
        return [f"still {obs.status} {json_body(obs).get('error', '')} at the last attempt: no throttling or "
                "lockout"]
    return check


# -- authorization endpoint -----------------------------------------------------------------------------------
def expect_no_redirect() -> Check:
    """RFC 6749 §4.1.2.1: an invalid client or redirect URI is shown to the user, never redirected: no
    Location to the client, no code."""
    def check(obs: Observation) -> list[str]:
        problems = _status_problem(obs)
        if problems:
            return problems
        params = location_params(obs)
        if params is not None:
            what = "a code" if "code" in params else (f"error={params['error']}" if "error" in params else "")
            return [f"redirected to {_short(obs.headers.get('Location'), 90)!r} {what}".rstrip()]
        return []
    return check


def _state_problem(params: dict[str, str], state: Any) -> list[str]:
    if state is ANY:
        return []
    if state is ABSENT:
        return [] if "state" not in params else [f"state {_short(params['state'])!r} appeared, none was sent"]
    if params.get("state") != state:
        return [f"state {_short(params.get('state'))!r} is not the exact value sent ({_short(state)!r})"]
    return []


def expect_error_redirect(*errors: str, state: Any = ANY) -> Check:
    """err->cb: a redirect to the client with ``error`` in ``errors``, no code, and ``state`` echoed."""
    allowed = set(errors)

    def check(obs: Observation) -> list[str]:
        problems = _status_problem(obs)
        if problems:
            return problems
        params = location_params(obs)
        if params is None:
            return [f"status {obs.status} with no redirect to the client, expected error="
                    f"{'/'.join(sorted(allowed))} sent back to it"]
        if "code" in params:
            return ["a code was issued"]
        if allowed and params.get("error") not in allowed:
            problems.append(f"error {_short(params.get('error'))!r}, expected {'/'.join(sorted(allowed))}")
        return problems + _state_problem(params, state)
    return check


def expect_refused(*errors: str, state: Any = ANY) -> Check:
    """No code: either an error page (no redirect) or err->cb with one of ``errors``."""
    return any_of(expect_no_redirect(), expect_error_redirect(*errors, state=state))


def expect_code(*, state: Any = ANY) -> Check:
    """A successful authorization response: redirect to the client with a code and ``state`` echoed."""
    def check(obs: Observation) -> list[str]:
        problems = _status_problem(obs)
        if problems:
            return problems
        params = location_params(obs)
        if params is None:
            return [f"status {obs.status}: no redirect to the client"]
        if "error" in params or not params.get("code"):
            return [f"no code (error={_short(params.get('error'))!r})"]
        return _state_problem(params, state)
    return check


def expect_redirect_status(*allowed: int) -> Check:
    """RFC 9700 §4.12: the login POST is answered with 302/303 (or a page), never 307/308."""
    def check(obs: Observation) -> list[str]:
        problems = _status_problem(obs)
        if problems:
            return problems
        if obs.status in (307, 308):
            return [f"{obs.status} after the credential POST: the browser re-POSTs the password to the target"]
        if 300 <= obs.status < 400 and obs.status not in allowed:
            return [f"status {obs.status}, expected {'/'.join(map(str, allowed))}"]
        return []
    return check
