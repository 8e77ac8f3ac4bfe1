"""Combinators for expectations: one way to compose checks for every kind of scenario.

A check judges one ``Observation`` and returns the problems found (``[]`` = as a secure server answers);
each problem is a ``harness.scenario.Problem`` (a str that knows whether it is a vulnerability or a
deviation). The resource-server nouns (``harness.checks``) and the authorization-server factories
(``harness.aschecks``) are both composed with the functions here.
"""
from __future__ import annotations

from .scenario import Check, Observation, Problem, impact_of


def all_of(*checks: Check) -> Check:
    """Every check must hold; the problems of all of them, each once."""
    def check(obs: Observation) -> list[str]:
        problems: list[str] = []
        for c in checks:
            for p in c(obs):
                if p not in problems:
                    problems.append(p)
        return problems
    return check


def _worst(problems: list[str]) -> int:
    return 1 if any(impact_of(p) == "vulnerability" for p in problems) else 0


def any_of(*checks: Check) -> Check:
    """Secure if ANY of the alternatives holds (a server may refuse at authorize OR at the token endpoint).
    When none holds, the problems of the mildest alternative: a refusal in the wrong form (deviation) is
    reported as that, not as a vulnerability because another alternative would have been stricter."""
    def check(obs: Observation) -> list[str]:
        found: list[list[str]] = []
        for c in checks:
            problems = c(obs)
            if not problems:
                return []
            found.append(problems)
        mildest = min(found, key=_worst)
        text = " / or: ".join("; ".join(f) for f in found)
        p = mildest[0]
        return [p.relabel(text) if isinstance(p, Problem) else Problem(text)]
    return check


def by_label(default: Check, **routes: Check) -> Check:
    """Route an observation by its label prefix (``control: ...`` -> routes["control"])."""
    def check(obs: Observation) -> list[str]:
        prefix = obs.label.split(":", 1)[0].strip() if ":" in obs.label else ""
        return routes.get(prefix, default)(obs)
    return check
