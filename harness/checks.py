"""Expectations: small functions that judge one Observation and return the problems found ([] = as a
secure server answers). Scenarios compose them; the runner applies them.

RFC 6750 §3: a protected resource answers a failed request with a ``WWW-Authenticate: Bearer`` challenge;
§3.1 defines ``invalid_request`` (400), ``invalid_token`` (401) and ``insufficient_scope`` (403), and a
request without credentials SHOULD NOT carry an error code. RFC 9068 §4 makes ``invalid_token`` the answer
to every access-token validation failure. RFC 7235 §2.1 / RFC 9110 §11 define the challenge syntax parsed
here (auth-scheme, then a token68 or comma-separated auth-params; several challenges may share a header).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable, Iterable

from .expect import all_of, any_of, by_label  # noqa: F401 - part of this module's vocabulary
from .scenario import Check, Observation

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


# -- building blocks -----------------------------------------------------------------------------------
def _no_response(obs: Observation) -> list[str]:
    return [f"no response ({obs.error})"] if obs.status is None else []


def no_server_error(obs: Observation) -> list[str]:
    """No 5xx, and no traceback in the body."""
    if obs.status is None:
        return _no_response(obs)
    problems = []
    if obs.status >= 500:
        problems.append(f"server error {obs.status}")
    if re.search(r"Traceback \(most recent call last\)|File \"[^\"]+\", line \d+|at [\w.$]+\(\w+\.java:\d+\)",
                 obs.body):
        problems.append("the body shows a stack trace")
    return problems


def status_is(*codes: int) -> Check:
    def check(obs: Observation) -> list[str]:
        if obs.status is None:
            return _no_response(obs)
        if obs.status not in codes:
            return [f"status {obs.status}, expected {' or '.join(map(str, codes))}"]
        return []
    return check


def bearer_error(error: str | None, status: int) -> Check:
    """``status`` with exactly one Bearer challenge whose ``error`` is ``error`` (None: no error attribute)."""
    def check(obs: Observation) -> list[str]:
        problems = status_is(status)(obs)
        if obs.status is None:
            return problems
        problems += no_server_error(obs) if obs.status >= 500 else []
        challenges = bearer_challenges(obs)
        if not challenges:
            got = obs.header_values("WWW-Authenticate")
            problems.append(f"no WWW-Authenticate: Bearer challenge (got {list(got) or 'none'})")
            return problems
        if len(challenges) > 1:
            problems.append(f"{len(challenges)} Bearer challenges, expected exactly one (RFC 6750 §3)")
        errors = challenges[0].get("error")
        if error is None and errors:
            problems.append(f"the challenge carries error={errors[0]!r}; a request without credentials "
                            "SHOULD NOT get an error code (RFC 6750 §3.1)")
        elif error is not None and errors != [error]:
            problems.append(f"challenge error={errors[0] if errors else 'absent'!r}, expected {error!r}")
        return problems
    return check


def invalid_token(obs: Observation) -> list[str]:
    """401 with ``WWW-Authenticate: Bearer error="invalid_token"`` (RFC 6750 §3.1, RFC 9068 §4)."""
    return bearer_error("invalid_token", 401)(obs)


def missing_token(obs: Observation) -> list[str]:
    """401 with a bare ``Bearer`` challenge and no error attribute (RFC 6750 §3, §3.1)."""
    return bearer_error(None, 401)(obs)


def invalid_request_or_token(obs: Observation) -> list[str]:
    """400 invalid_request, or 401 invalid_token (RFC 6750 §3.1: a malformed request)."""
    if obs.status == 400:
        return bearer_error("invalid_request", 400)(obs)
    if obs.status == 401:
        return invalid_token(obs)
    return status_is(400, 401)(obs)


def rejected_without_crash(obs: Observation) -> list[str]:
    """Any 4xx (400/401/413/414/431...), never 2xx or 5xx."""
    if obs.status is None:
        return _no_response(obs)
    problems = no_server_error(obs)
    if 200 <= obs.status < 300:
        problems.append(f"status {obs.status}: the request was accepted")
    return problems


def ok(obs: Observation) -> list[str]:
    """200: the valid interaction succeeds."""
    problems = status_is(200)(obs)
    if obs.status is not None and obs.status != 200:
        challenge = obs.header_values("WWW-Authenticate")
        if challenge:
            problems[-1] += f" ({challenge[0][:120]})"
    return problems


def insufficient_scope(needed: str) -> Check:
    """403 with ``Bearer error="insufficient_scope"`` and a ``scope`` attribute naming what is needed."""
    def check(obs: Observation) -> list[str]:
        problems = bearer_error("insufficient_scope", 403)(obs)
        challenges = bearer_challenges(obs)
        if obs.status == 403 and challenges:
            scopes = challenges[0].get("scope")
            if not scopes:
                problems.append("the insufficient_scope challenge has no scope attribute (RFC 6750 §3)")
            elif not set(needed.split()) <= set(scopes[0].split()):
                problems.append(f"challenge scope={scopes[0]!r} does not name the needed {needed!r}")
        return problems
    return check


def challenge_well_formed(obs: Observation) -> list[str]:
    """Exactly one Bearer challenge; realm, scope, error, error_description at most once (RFC 6750 §3)."""
    problems = _no_response(obs)
    if problems:
        return problems
    challenges = bearer_challenges(obs)
    if len(challenges) != 1:
        return [f"{len(challenges)} Bearer challenges (headers {list(obs.header_values('WWW-Authenticate'))}), "
                "expected exactly one"]
    for name in ("realm", "scope", "error", "error_description", "error_uri"):
        if len(challenges[0].get(name)) > 1:
            problems.append(f"attribute {name} appears {len(challenges[0].get(name))} times (MUST NOT repeat)")
    return problems


def not_accepted(obs: Observation) -> list[str]:
    """Not served: no 2xx, no 5xx."""
    return rejected_without_crash(obs)


def body_lacks(*needles: str, what: str = "") -> Check:
    def check(obs: Observation) -> list[str]:
        hay = obs.body + "\n" + "\n".join(f"{k}: {v}" for k, v in obs.headers.items())
        return [f"the response echoes {what or repr(n[:40])}" for n in needles if n and n in hay]
    return check


def faster_than(seconds: float) -> Check:
    def check(obs: Observation) -> list[str]:
        if obs.elapsed >= seconds or (obs.error and "Timeout" in obs.error):
            return [f"the response took {obs.elapsed:.1f} s (>= {seconds:g} s: a time-based injection signal)"]
        return []
    return check


def any_status_no_crash(obs: Observation) -> list[str]:
    """Whatever the answer, no 5xx and no stack trace."""
    return no_server_error(obs)
