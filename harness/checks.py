"""Expectations: small functions that judge one Observation and return the problems found ([] = as a
secure server answers). Scenarios compose them; the runner applies them.

Every problem says what the target did (``harness.scenario.Problem``):

- the probe was ACCEPTED (a 2xx: protected data served with a forged, invalid or missing token; a marker
  reflected; a URL fetched): a ``vulnerability``;
- the probe was REFUSED, but not in the form the RFC prescribes: a ``deviation``, carrying the keyword of
  the sentence it breaks. The sentences (quoted in the constants below):
  RFC 6750 §3 makes the ``WWW-Authenticate`` header a MUST on a refused request, and the ``error`` attribute
  a SHOULD; RFC 6750 §3.1 says which status each error code SHOULD have and that a request without
  credentials SHOULD NOT get an error code; RFC 9068 §4 makes ``invalid_token`` a MUST for an RFC 9068
  resource server (``Problem.strict``: the runner applies it to targets that declare ``rfc9068 = true``).
- a 5xx (or a stack trace) on bad input is a deviation too (robustness: the input was not served, but the
  server failed instead of refusing it), never a vulnerability.

RFC 7235 §2.1 / RFC 9110 §11 define the challenge syntax parsed here (auth-scheme, then a token68 or
comma-separated auth-params; several challenges may share a header).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterable

from .expect import all_of, any_of, by_label  # noqa: F401 - part of this module's vocabulary
from .scenario import Check, Observation, Problem, deviation, vulnerability

TOKEN_CHARS = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
TOKEN68 = re.compile(r"[A-Za-z0-9\-._~+/]+=*")


@dataclass
class Challenge:
    scheme: str
    params: list[tuple[str, str]] = field(default_factory=list)
    token68: str | None = None

    def get(self, name: str) -> list[str]:
        return [v for k, v in self.params if k.lower() == name.lower()]


def parse_challenges(values: Iterable[str]) -> list[Challenge]:
    """Parse WWW-Authenticate header values into challenges (RFC 9110 §11.6.1). Lenient on whitespace;
    anything unparsable ends the current header value (a malformed header is itself evidence)."""
    out: list[Challenge] = []
    for value in values:
        s, i, n = value, 0, len(value)

        def skip_ws(j: int) -> int:
            while j < n and s[j] in " \t":
                j += 1
            return j

        while i < n:
            i = skip_ws(i)
            while i < n and s[i] in ", \t":
                i += 1
            m = TOKEN_CHARS.match(s, i)
            if not m:
                break
            ch = Challenge(m.group())
            out.append(ch)
            i = skip_ws(m.end())
            m = TOKEN_CHARS.match(s, i)
            j = skip_ws(m.end()) if m else i
            is_param = m is not None and j < n and s[j] == "=" and s[j:].lstrip("=").strip()[:1] not in ("", ",")
            if not is_param:
                m68 = TOKEN68.match(s, i)
                if m68:
                    ch.token68 = m68.group()
                    i = m68.end()
                continue
            while i < n:
                m = TOKEN_CHARS.match(s, i)
                if not m:
                    break
                j = skip_ws(m.end())
                if j >= n or s[j] != "=":
                    break  # the next challenge's scheme
                j = skip_ws(j + 1)
                if j < n and s[j] == '"':
                    k, buf = j + 1, []
                    while k < n and s[k] != '"':
                        if s[k] == "\\" and k + 1 < n:
                            k += 1
                        buf.append(s[k])
                        k += 1
                    ch.params.append((m.group(), "".join(buf)))
                    j = k + 1
                else:
                    mv = TOKEN_CHARS.match(s, j)
                    ch.params.append((m.group(), mv.group() if mv else ""))
                    j = mv.end() if mv else j
                j = skip_ws(j)
                if j < n and s[j] == ",":
                    j = skip_ws(j + 1)
                i = j
    return out


def bearer_challenges(obs: Observation) -> list[Challenge]:
    return [c for c in parse_challenges(obs.header_values("WWW-Authenticate")) if c.scheme.lower() == "bearer"]


# -- the sentences the nouns rest on ---------------------------------------------------------------------
CHALLENGE_RULE = ('RFC 6750 §3: If the protected resource request does not include authentication credentials or '
                  'does not contain an access token that enables access to the protected resource, the resource '
                  'server MUST include the HTTP "WWW-Authenticate" response header field')
ERROR_RULE = ('RFC 6750 §3: If the protected resource request included an access token and failed authentication, '
              'the resource server SHOULD include the "error" attribute')
NO_ERROR_RULE = ('RFC 6750 §3.1: If the request lacks any authentication information ..., the resource server '
                 'SHOULD NOT include an error code or other error information')
STATUS_RULES = {
    400: "RFC 6750 §3.1 invalid_request: The resource server SHOULD respond with the HTTP 400 (Bad Request) "
         "status code",
    401: "RFC 6750 §3.1 invalid_token: The resource SHOULD respond with the HTTP 401 (Unauthorized) status code",
    403: "RFC 6750 §3.1 insufficient_scope: The resource server SHOULD respond with the HTTP 403 (Forbidden) "
         "status code",
}
RFC9068_ERROR_RULE = ('RFC 9068 §4: in case of any failure in the validation checks listed above, the '
                      'authorization server response MUST include the error code "invalid_token"')
REPEAT_RULE = ('RFC 6750 §3: The "error", "error_description", and "error_uri" attributes MUST NOT appear more '
               'than once (and "realm", "scope" likewise)')
ROBUSTNESS_RULE = ("RFC 9110 §15.6: a 5xx says the server failed to fulfil a valid request; bad input is refused "
                   "with a 4xx (robustness)")
ACCEPTED_RULE = ("RFC 6750 §3.1 / RFC 9068 §4: a request whose token is invalid, expired, malformed or missing "
                 "is refused")


# -- building blocks -----------------------------------------------------------------------------------
def _no_response(obs: Observation) -> list[str]:
    return [f"no response ({obs.error})"] if obs.status is None else []


def accepted(obs: Observation, rule: str = ACCEPTED_RULE, what: str = "the request") -> list[Problem]:
    """A 2xx to a probe that must be refused: the attack got through."""
    if obs.status is not None and 200 <= obs.status < 300:
        return [vulnerability(f"status {obs.status}: {what} was accepted", rule=rule)]
    return []


def no_server_error(obs: Observation) -> list[str]:
    """No 5xx, and no traceback in the body (a robustness deviation, not a vulnerability)."""
    if obs.status is None:
        return _no_response(obs)
    problems: list[str] = []
    if obs.status >= 500:
        problems.append(deviation(f"server error {obs.status}", rule=ROBUSTNESS_RULE))
    if re.search(r"Traceback \(most recent call last\)|File \"[^\"]+\", line \d+|at [\w.$]+\(\w+\.java:\d+\)",
                 obs.body):
        problems.append(deviation("the body shows a stack trace", rule="RFC 8725 §3.10 / RFC 6749 §10: error "
                                  "responses do not disclose implementation internals"))
    return problems


def status_is(*codes: int, keyword: str = "SHOULD", rule: str = "") -> Check:
    """One of ``codes``; a 2xx that is not among them is a vulnerability (the probe was accepted), any other
    status a deviation with ``keyword`` (RFC 6750 §3.1 only recommends the status codes)."""
    def check(obs: Observation) -> list[str]:
        if obs.status is None:
            return _no_response(obs)
        if obs.status in codes:
            return []
        if 200 <= obs.status < 300:
            return accepted(obs)
        if obs.status >= 500:
            return no_server_error(obs)
        return [deviation(f"status {obs.status}, expected {' or '.join(map(str, codes))}", keyword,  # type: ignore[arg-type]
                          rule or STATUS_RULES.get(codes[0], ""))]
    return check


def _challenge_problems(obs: Observation, error: str | None) -> list[str]:
    """The WWW-Authenticate part of a refusal: a Bearer challenge (MUST), its error code (SHOULD; MUST for an
    RFC 9068 resource server when the code is invalid_token)."""
    got = obs.header_values("WWW-Authenticate")
    challenges = bearer_challenges(obs)
    if not challenges:
        if got:
            return [deviation(f"no Bearer challenge (WWW-Authenticate: {list(got)})", rule=CHALLENGE_RULE)]
        return [deviation("no WWW-Authenticate header", rule=CHALLENGE_RULE)]
    errors = challenges[0].get("error")
    if error is None:
        if errors:
            return [deviation(f"the challenge carries error={errors[0]!r} for a request without credentials",
                              "SHOULD", NO_ERROR_RULE)]
        return []
    strict = RFC9068_ERROR_RULE if error == "invalid_token" else ""
    if not errors:
        return [deviation(f"bare Bearer challenge, no error={error!r}", "SHOULD", ERROR_RULE, strict)]
    if errors != [error]:
        return [deviation(f"challenge error={errors[0]!r}, expected {error!r}", "SHOULD", ERROR_RULE, strict)]
    return []


def refused(obs: Observation, error: str | None, status: int) -> list[str]:
    """The probe must be refused. Accepted (2xx): vulnerability. Otherwise the refusal's form is judged:
    5xx (robustness), the status (SHOULD), the challenge (MUST) and its error code (SHOULD / RFC 9068 MUST)."""
    if obs.status is None:
        return _no_response(obs)
    if 200 <= obs.status < 300:
        return accepted(obs)
    if obs.status >= 500:
        return no_server_error(obs)
    problems = status_is(status)(obs) + no_server_error(obs)
    return problems + _challenge_problems(obs, error)


def bearer_error(error: str | None, status: int) -> Check:
    """Refused with ``status`` and one Bearer challenge whose ``error`` is ``error`` (None: no error attribute)."""
    def check(obs: Observation) -> list[str]:
        return refused(obs, error, status)
    return check


def invalid_token(obs: Observation) -> list[str]:
    """Refused: 401 with ``WWW-Authenticate: Bearer error="invalid_token"`` (RFC 6750 §3.1, RFC 9068 §4)."""
    return refused(obs, "invalid_token", 401)


def missing_token(obs: Observation) -> list[str]:
    """Refused: 401 with a Bearer challenge and no error attribute (RFC 6750 §3, §3.1)."""
    return refused(obs, None, 401)


def invalid_request_or_token(obs: Observation) -> list[str]:
    """Refused as malformed: 400 invalid_request, or 401 invalid_token (RFC 6750 §3.1: either code fits a
    malformed token; the server picks)."""
    if obs.status == 400:
        return refused(obs, "invalid_request", 400)
    return refused(obs, "invalid_token", 401)


def rejected_without_crash(obs: Observation) -> list[str]:
    """Refused in any form (400/401/403/413/414/431...): never 2xx (vulnerability) or 5xx (robustness)."""
    if obs.status is None:
        return _no_response(obs)
    return accepted(obs) + no_server_error(obs)


def ok(obs: Observation) -> list[str]:
    """200: the valid interaction succeeds (see ``accepts``)."""
    return _valid_accepted(obs)


def insufficient_scope(needed: str) -> Check:
    """Refused with 403 ``Bearer error="insufficient_scope"``. The ``scope`` attribute is OPTIONAL
    (RFC 6750 §3.1: "MAY include the scope attribute"), so its absence passes."""
    def check(obs: Observation) -> list[str]:
        return refused(obs, "insufficient_scope", 403)
    return check


def challenge_well_formed(obs: Observation) -> list[str]:
    """Realm, scope, error, error_description, error_uri at most once in the Bearer challenge (RFC 6750 §3)."""
    problems = _no_response(obs)
    if problems:
        return problems
    for ch in bearer_challenges(obs):
        for name in ("realm", "scope", "error", "error_description", "error_uri"):
            if len(ch.get(name)) > 1:
                problems.append(deviation(f"attribute {name} appears {len(ch.get(name))} times", rule=REPEAT_RULE))
    return problems


def not_accepted(obs: Observation) -> list[str]:
    """Not served: no 2xx (vulnerability), no 5xx (robustness)."""
    return rejected_without_crash(obs)


def either(*statuses: int) -> Check:
    """Where the RFC leaves the server a choice (MAY, or silence): any of ``statuses`` passes, and so does any
    other refusal; only a 5xx (robustness) is reported."""
    def check(obs: Observation) -> list[str]:
        return no_server_error(obs)
    check.__doc__ = f"any answer ({' or '.join(map(str, statuses))} expected), no 5xx"
    return check


def body_lacks(*needles: str, what: str = "") -> Check:
    """The response does not echo any needle (a reflected marker shows the value was processed: a
    vulnerability, RFC 8725 §3.10)."""
    def check(obs: Observation) -> list[str]:
        hay = obs.body + "\n" + "\n".join(f"{k}: {v}" for k, v in obs.headers.items())
        return [vulnerability(f"the response echoes {what or repr(n[:40])}", rule="RFC 8725 §3.10")
                for n in needles if n and n in hay]
    return check


def faster_than(seconds: float) -> Check:
    """A time-based injection signal (the payload ran) is a vulnerability."""
    def check(obs: Observation) -> list[str]:
        if obs.elapsed >= seconds or (obs.error and "Timeout" in obs.error):
            return [vulnerability(f"the response took {obs.elapsed:.1f} s (>= {seconds:g} s: a time-based injection "
                                  "signal)", rule="RFC 8725 §3.10")]
        return []
    return check


def any_status_no_crash(obs: Observation) -> list[str]:
    """Whatever the answer, no 5xx and no stack trace."""
    return no_server_error(obs)


def accepts(rule: str, keyword: str = "MUST") -> Check:
    """200, because ``rule`` makes the request valid; a refusal is a deviation from ``rule`` with ``keyword``
    (the target is stricter than the RFC allows, nothing got through), a 5xx a robustness deviation."""
    def check(obs: Observation) -> list[str]:
        if obs.status is None:
            return _no_response(obs)
        if obs.status == 200:
            return []
        if obs.status >= 500:
            return no_server_error(obs)
        challenge = obs.header_values("WWW-Authenticate")
        extra = f" ({challenge[0][:120]})" if challenge else ""
        return [deviation(f"status {obs.status}, expected 200: a valid request was refused{extra}",
                          keyword, rule)]  # type: ignore[arg-type]
    return check


def lenient(rule: str, keyword: str = "MUST", error_check: Check | None = None) -> Check:
    """For a malformed wrapping of a VALID token (padding, stray characters, junk around it): refused as
    ``error_check`` says (default: 400 invalid_request or 401 invalid_token), and ACCEPTED is a deviation from
    ``rule`` (a lenient parser: the content the trusted key signed is unchanged, nothing was forged)."""
    inner = error_check or invalid_request_or_token

    def check(obs: Observation) -> list[str]:
        if obs.status is not None and 200 <= obs.status < 300:
            return [deviation(f"status {obs.status}: the malformed form was accepted (lenient parsing; the signed "
                              "content is unchanged)", keyword, rule)]  # type: ignore[arg-type]
        return inner(obs)
    return check


def policy_refused(rule: str) -> Check:
    """For a token signed by the TRUSTED key that breaks the verifier's own policy (an algorithm outside its
    allow-list): refused as ``invalid_token``; accepted is a deviation from ``rule`` (MUST), not a forgery:
    only the key's holder can make such a token."""
    def check(obs: Observation) -> list[str]:
        if obs.status is not None and 200 <= obs.status < 300:
            return [deviation(f"status {obs.status}: accepted (signed by the trusted key, so no forgery; the "
                              "algorithm policy is not enforced)", "MUST", rule)]
        return invalid_token(obs)
    return check


_valid_accepted = accepts("RFC 9068 §4 / RFC 7519 §7.2: a token that passes every validation step is valid; "
                          "refusing it breaks interoperability")
