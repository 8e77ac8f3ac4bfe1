"""Expectations of the authorization endpoint (RFC 6749 §4.1.2, §4.1.2.1; RFC 9700 §4.12), graded by what the
target did: a code or a redirect where none may go is a vulnerability, a refusal in another form than the RFC's
a deviation (see ``harness.aschecks``)."""
from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from .asobs import _no_response, _short, location_params, redirect_goes_to
from .expect import any_of
from .scenario import Check, Keyword, Observation, deviation, vulnerability

ANY = object()          # state=ANY: do not look at state
ABSENT = None           # state=ABSENT: the request carried no state

NO_REDIRECT = ('RFC 6749 §4.1.2.1: "the authorization server SHOULD inform the resource owner of the error and '
               'MUST NOT automatically redirect the user-agent to the invalid redirection URI."')
ERROR_REDIRECT = ('RFC 6749 §4.1.2.1: "If the resource owner denies the access request or if the request fails '
                  'for reasons other than a missing or invalid redirection URI, the authorization server informs '
                  'the client by adding the following parameters to the query component of the redirection URI"')
STATE_ECHO = ('RFC 6749 §4.1.2: "state REQUIRED if the "state" parameter was present in the client authorization '
              'request. The exact value received from the client."')
NO_307 = ('RFC 9700 §4.12.2: "Authorization servers MUST NOT use HTTP 307 status code when redirecting a request '
          'that contains user credentials to avoid this attack."')


def _redirect_problem(obs: Observation, params: dict[str, str], rule: str) -> list[str]:
    """A redirect that should not have happened, graded by where it went and what it carried."""
    where = redirect_goes_to(obs)
    loc = _short(obs.headers.get("Location"), 90)
    if where == "registered":
        if params.get("code"):
            return [deviation(f"the invalid request got a code at the registered redirect URI ({loc})", "MUST",
                              rule)]
        return []   # an error redirect to the registered URI: the RFC allows it
    what = "a code" if params.get("code") else (f"error={params['error']}" if "error" in params else "a redirect")
    return [vulnerability(f"{what} sent to {loc} (not the registered redirect URI)", rule)]


def expect_no_redirect(rule: str = NO_REDIRECT) -> Check:
    """An invalid redirect URI: nothing is sent there. An error page passes, so does an error redirect to the
    REGISTERED URI; a code or an error redirect to the invalid URI is a vulnerability (a code leaks, or the
    server is an open redirector); a code at the registered URI is a deviation."""
    def check(obs: Observation) -> list[str]:
        if obs.status is None:
            return _no_response(obs)
        params = location_params(obs)
        if params is None:
            return []
        return _redirect_problem(obs, params, rule)
    return check


def _state_problem(params: dict[str, str], state: Any) -> list[str]:
    if state is ANY or state is ABSENT:
        return []   # without a state in the request the RFC says nothing about the response's
    if params.get("state") != state:
        return [deviation(f"state {_short(params.get('state'))!r} is not the exact value sent ({_short(state)!r})",
                          "MUST", STATE_ECHO)]
    return []


def expect_error_redirect(*errors: str, state: Any = ANY, rule: str = ERROR_REDIRECT,
                          keyword: Keyword = "MUST", issued: str = "vulnerability") -> Check:
    """A request error sent back to the client: no code (else a vulnerability, or a deviation with
    ``issued="deviation"`` where a code is no attack), a redirect to the registered URI with ``error`` in
    ``errors`` and ``state`` echoed (else a deviation from ``rule``). An empty ``errors`` accepts any code."""
    allowed = set(errors)

    def check(obs: Observation) -> list[str]:
        if obs.status is None:
            return _no_response(obs)
        params = location_params(obs)
        if params is None:
            return [deviation(f"status {obs.status} with no redirect to the client, expected error="
                              f"{'/'.join(sorted(allowed))} sent back to it", keyword, rule)]
        if redirect_goes_to(obs) == "sent":
            return _redirect_problem(obs, params, NO_REDIRECT)
        if params.get("code"):
            if issued == "deviation" or keyword == "SHOULD":
                return [deviation("a code was issued", keyword, rule)]
            return [vulnerability("a code was issued", rule)]
        problems: list[str] = []
        if allowed and params.get("error") not in allowed:
            problems.append(deviation(f"error {_short(params.get('error'))!r}, expected {'/'.join(sorted(allowed))}",
                                      keyword, rule))
        return problems + _state_problem(params, state)
    return check


def expect_refused(*errors: str, state: Any = ANY, rule: str = ERROR_REDIRECT) -> Check:
    """No code: either an error page (no redirect) or err->cb with one of ``errors``."""
    return any_of(expect_no_redirect(), expect_error_redirect(*errors, state=state, rule=rule))


def expect_no_code(rule: str) -> Check:
    """No code reached the client (an error page, a refusal, or a redirect with an error)."""
    def check(obs: Observation) -> list[str]:
        params = location_params(obs)
        if obs.status is None:
            return _no_response(obs)
        if params is not None and params.get("code"):
            return [vulnerability("a code was issued to the forged request", rule)]
        return []
    return check


def expect_code(*, state: Any = ANY, rule: str = STATE_ECHO, keyword: Keyword = "MUST") -> Check:
    """A valid authorization request succeeds: a redirect to the client with a code and ``state`` echoed.
    A refusal is a deviation from ``rule`` (``keyword``)."""
    def check(obs: Observation) -> list[str]:
        if obs.status is None:
            return _no_response(obs)
        params = location_params(obs)
        if params is None:
            return [deviation(f"status {obs.status}: no redirect to the client", keyword, rule)]
        if "error" in params or not params.get("code"):
            return [deviation(f"no code (error={_short(params.get('error'))!r})", keyword, rule)]
        return _state_problem(params, state)
    return check


def expect_redirect_status() -> Check:
    """RFC 9700 §4.12: the credential POST is never answered with 307 (nor 308, which repeats the POST the
    same way): to the client that re-posts the password to it (a vulnerability); to the AS itself a
    deviation from the MUST NOT. Any other answer passes (303 is what §4.12.2 recommends)."""
    def check(obs: Observation) -> list[str]:
        if obs.status is None:
            return _no_response(obs)
        if obs.status not in (307, 308):
            return []
        loc = obs.headers.get("Location") or ""
        target = urlsplit(loc)
        own = urlsplit(obs.url)
        if target.netloc and (target.scheme, target.netloc) != (own.scheme, own.netloc):
            return [vulnerability(f"{obs.status} after the credential POST to {_short(loc, 80)}: the browser "
                                  "re-posts the password there", NO_307)]
        return [deviation(f"{obs.status} after the credential POST (the browser re-posts the password)", "MUST",
                          NO_307)]
    return check
