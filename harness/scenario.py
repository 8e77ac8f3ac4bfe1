"""The shape of a conformance scenario: a small declarative, frozen object.

This module is the contract between the engine (harness/runner.py) and the catalog (conformance/).
Fields may be added (with defaults); existing ones keep their meaning.

A scenario changes ONE thing in a known-good interaction and says what a secure server answers:

- resource-server scenarios: ``mutate(kit)`` returns the probes to send (each a request carrying a token
  built from the valid baseline T0 with one change); every probe's response must satisfy ``expect``.
- authorization-server and token-endpoint scenarios: ``mutate`` is an ``async def (kit) -> list[Observation]``
  that drives the flow with one step changed (``swap_code_verifier``, ``set_redirect_uri``...) and returns
  what it observed; every observation must satisfy ``expect``.

``needs`` names target capabilities the scenario requires (for example ``"mint"``: the harness can sign
valid tokens; ``"jwks"``: the target's public keys are known; ``"scoped_endpoint"``; ``"typ"``;
``"password_grant"``; ``"confidential_client"``; ``"refresh_token"``). A target without one of them gets
the verdict ``not-applicable`` with the reason, never a silent pass.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Literal

AppliesTo = Literal["resource-server", "authorization-server", "token-endpoint"]
Severity = Literal["critical", "high", "medium", "low"]
Verdict = Literal["pass", "fail", "deviation", "error", "not-applicable"]
VERDICTS: tuple[Verdict, ...] = ("pass", "fail", "deviation", "error", "not-applicable")


@dataclass(frozen=True)
class Observation:
    """What one request showed: enough to judge it and to print it as evidence (tokens shortened)."""
    label: str                      # which probe/variant ("alg=None", "redirect_uri=https://c@evil")
    method: str
    url: str
    request_headers: dict[str, str]
    request_body: str | None
    status: int | None              # None: no response (connection error, timeout)
    headers: dict[str, str]         # response headers (first value of each; Location kept raw)
    body: str                       # response body, truncated
    elapsed: float = 0.0
    error: str | None = None        # transport error, if any
    json: Any = None                # parsed JSON body, if it was JSON
    # Every value of every response header, in order (name lower-cased): repeated headers such as
    # WWW-Authenticate or Set-Cookie keep all their values here.
    header_lists: dict[str, tuple[str, ...]] = field(default_factory=dict, compare=False)

    def header_values(self, name: str) -> tuple[str, ...]:
        """All values of a response header (case-insensitive name)."""
        if self.header_lists:
            return self.header_lists.get(name.lower(), ())
        return tuple(v for k, v in self.headers.items() if k.lower() == name.lower())


@dataclass(frozen=True)
class Probe:
    """One request of a resource-server scenario. ``token`` goes in ``Authorization: Bearer <token>``
    unless ``headers`` carries its own Authorization; ``path`` defaults to the profile's endpoint.
    ``expect`` overrides the scenario's expectation for this probe (e.g. the 200 arm of a leeway test)."""
    label: str
    token: str | None = None
    headers: dict[str, str] | None = None
    method: str = "GET"
    path: str | None = None
    query: str | None = None        # raw query string, appended as ?query
    body: str | bytes | None = None
    expect: "Check | None" = None


Impact = Literal["vulnerability", "deviation"]
Keyword = Literal["MUST", "SHOULD"]


class Problem(str):
    """One thing an observation showed that a secure, conformant server would not do.

    A ``str`` (its text is what reports print), plus what it means:

    - ``impact="vulnerability"``: the attack got through: a forged or invalid token, code, refresh token,
      grant or redirect was accepted, protected data was served, a secret leaked. Severity: the scenario's.
    - ``impact="deviation"``: the attack was refused, but not the way the RFC prescribes (another status,
      error code or challenge). ``keyword`` is the RFC keyword of the rule it breaks: ``MUST`` (severity
      low) or ``SHOULD`` (severity info). Never critical.

    ``rule`` is the RFC sentence the expectation rests on (``"RFC 6750 §3.1: ... SHOULD ..."``).
    ``strict`` (optional) is the sentence that makes a SHOULD deviation a MUST for a resource server that
    declares itself an RFC 9068 one (``rfc9068 = true`` in its profile): RFC 9068 §4 makes the
    ``invalid_token`` error code mandatory where RFC 6750 §3 only recommends it.
    A plain ``str`` returned by a check counts as a vulnerability.
    """
    impact: Impact
    keyword: Keyword
    rule: str
    strict: str

    def __new__(cls, text: str, impact: Impact = "vulnerability", keyword: Keyword = "MUST",
                rule: str = "", strict: str = "") -> "Problem":
        self = super().__new__(cls, text)
        self.impact, self.keyword, self.rule, self.strict = impact, keyword, rule, strict
        return self

    def relabel(self, text: str) -> "Problem":
        """The same problem with another text (e.g. prefixed with the probe's label)."""
        return Problem(text, self.impact, self.keyword, self.rule, self.strict)

    def strictly(self) -> "Problem":
        """This problem as judged for an RFC 9068 resource server (``strict`` applies: a MUST)."""
        if not self.strict:
            return self
        return Problem(str(self), self.impact, "MUST", self.strict)


def vulnerability(text: str, rule: str = "") -> Problem:
    """The attack got through (see ``Problem``)."""
    return Problem(text, "vulnerability", "MUST", rule)


def deviation(text: str, keyword: Keyword = "MUST", rule: str = "", strict: str = "") -> Problem:
    """Refused, but not as the RFC prescribes; ``keyword`` is the rule's RFC keyword (see ``Problem``)."""
    return Problem(text, "deviation", keyword, rule, strict)


def impact_of(problem: str) -> Impact:
    """A plain ``str`` problem is a vulnerability."""
    return getattr(problem, "impact", "vulnerability")


# An expectation checks one observation and returns the problems found ([] = as expected). Each is a
# ``Problem`` (or a plain str, which counts as a vulnerability).
Check = Callable[[Observation], list[str]]


@dataclass(frozen=True)
class Scenario:
    id: str                         # kebab-case, stable, listed in docs/catalog.md
    summary: str                    # one sentence
    refs: tuple[str, ...]           # ("RFC 7636 §4.6", "RFC 6749 §5.2", "CVE-2022-29217")
    applies_to: AppliesTo
    severity: Severity
    mutate: Callable[..., Any]      # see the module docstring
    expect: Check
    needs: frozenset[str] = frozenset()
    family: str = ""                # "sig", "key", "time", ... (the catalog section)
    control: bool = False           # a positive control: a valid interaction must succeed
    # "disruptive": runs last and alone for its target; "slow": waits minutes, runs only when asked (--slow)
    tags: tuple[str, ...] = field(default=())
    # Resource-server scenarios: a check run after all probes were sent (e.g. "the out-of-band listener
    # received no request"); returns problems like a Check. ``after(kit) -> list[str]``.
    after: Callable[..., list[str]] | None = None
    # Why this scenario exists, for the reports (one sentence on the attack; optional).
    rationale: str = ""
    # The RFC sentence the expectation rests on, with its keyword ("RFC 7519 §4.1.4: ... MUST NOT be accepted
    # for processing"). A vulnerability a check reports without a rule of its own carries this one.
    rule: str = ""


class NotApplicable(Exception):
    """Raised by ``mutate`` when the target turns out not to support what the scenario needs (the runner
    reports ``not-applicable`` with this message as the reason)."""
