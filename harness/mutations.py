"""Primitives the catalog uses to express resource-server scenarios in a few lines each.

``rs(id=..., summary=..., refs=..., severity=..., mutate=...)`` builds a frozen resource-server Scenario
(keyword arguments only, like ``Scenario`` itself); ``base_claims``/``base_header``/``resign`` give T0
(minted, or decoded from the target-issued valid token) and re-sign a change when the harness can.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Any, Callable, Iterable

from . import checks, forge
from .rskit import RSKit
from .scenario import Check, NotApplicable, Probe, Scenario


def rs(*, id: str, summary: str, refs: Iterable[str], severity: str, mutate: Callable[[RSKit], list[Probe]],
       expect: Check = checks.invalid_token, needs: Iterable[str] = ("jwt",), family: str = "",
       control: bool = False, tags: Iterable[str] = (), after: Callable[[RSKit], list[str]] | None = None,
       rationale: str = "", rule: str = "") -> Scenario:
    return Scenario(id=id, summary=summary, refs=tuple(refs), applies_to="resource-server", severity=severity,
                    mutate=mutate, expect=expect, needs=frozenset(needs), family=family or id.split("-")[0],
                    control=control, tags=tuple(tags), after=after, rationale=rationale, rule=rule)


def with_rules(scenarios: list[Scenario], rules: dict[str, str]) -> list[Scenario]:
    """The scenarios, each with the RFC sentence its expectation rests on (``rules[id]``)."""
    return [replace(s, rule=rules.get(s.id, s.rule)) for s in scenarios]


def base_claims(kit: RSKit, **changes: Any) -> dict:
    """T0's claims: fresh ones if the harness mints, else those of the token the target issued."""
    if "mint" in kit.capabilities:
        return kit.claims(**changes)
    if kit.valid_token is None or "jwt" not in kit.capabilities:
        raise NotApplicable("the target's tokens are not JWTs")
    return {**forge.claims_of(kit.valid_token), **changes}


def base_header(kit: RSKit, **changes: Any) -> dict:
    if "mint" in kit.capabilities:
        return kit.header(**changes)
    if kit.valid_token is None or "jwt" not in kit.capabilities:
        raise NotApplicable("the target's tokens are not JWTs")
    return {**forge.header_of(kit.valid_token), **changes}


def base_token(kit: RSKit) -> str:
    return kit.base_token()


def signed_or_tampered(kit: RSKit, header: Any, claims: Any) -> str:
    """Validly signed when the harness holds the key (so only the change can be the reason to refuse),
    else the valid token's signature kept (the change breaks it, a weaker but still useful probe)."""
    if "mint" in kit.capabilities:
        alg = header.get("alg") if isinstance(header, dict) else None
        if not isinstance(alg, str) or alg[:2] != kit.profile.algorithm[:2]:
            alg = kit.profile.algorithm
        return kit.mint(claims, header, alg=alg)
    sig = forge.split(kit.valid_token or "")[2]
    return f"{forge.segment(header)}.{forge.segment(claims)}.{sig}"


def listener_untouched(prefix_attr: str = "oob_urls") -> Callable[[RSKit], list[str]]:
    """An ``after`` check: none of the out-of-band URLs this scenario planted was fetched."""
    def after(kit: RSKit) -> list[str]:
        urls = getattr(kit, "planted", {}).get(prefix_attr, [])
        problems = []
        for url in urls:
            hits = kit.listener.hits_for(url)
            if hits:
                problems.append(f"the target fetched {url} ({hits[0].method}, User-Agent {hits[0].user_agent!r}): "
                                "it follows URLs from the token (SSRF / key injection)")
        return problems
    return after


def plant(kit: RSKit, bucket: str, tag: str) -> str:
    """A fresh listener URL, remembered for ``listener_untouched(bucket)``."""
    url = kit.oob_url(tag)
    if not hasattr(kit, "planted"):
        kit.planted = {}  # type: ignore[attr-defined]
    kit.planted.setdefault(bucket, []).append(url)  # type: ignore[attr-defined]
    return url


def scoped_path(kit: RSKit) -> str:
    return kit.profile.scoped_endpoint or kit.profile.endpoint
