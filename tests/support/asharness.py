"""Test helpers for the authorization-server half of the harness: profiles for in-process servers and a
minimal judge (the runner's contract: needs vs capabilities, ``mutate(kit)``, ``expect`` per observation,
``fail`` for a vulnerability and ``deviation`` for a refusal in the wrong form)."""
from __future__ import annotations

from dataclasses import dataclass, field

from harness import askit
from harness.scenario import NotApplicable, Scenario, impact_of
from harness.targets import ASProfile, ResourceProfile, Target


def as_target(base_url: str, *, name: str = "vulnerable-as", client_id: str = "frontend",
              redirect_uri: str = "http://localhost:8080/callback", scope: str = "me items",
              confidential: tuple[str, str] | None = None, username: str = "johndoe",
              password: str = "secret") -> Target:
    base_url = base_url.rstrip("/")
    profile = ASProfile(issuer=base_url, client_id=client_id, redirect_uri=redirect_uri, username=username,
                        password=password, scope=scope,
                        confidential_client_id=confidential[0] if confidential else None,
                        confidential_client_secret=confidential[1] if confidential else None)
    return Target(name=name, kind="authorization-server", base_url=base_url, authorization_server=profile)


def password_target(base_url: str, *, name: str = "password-server", scope: str = "",
                    username: str = "johndoe", password: str = "secret") -> Target:
    profile = ResourceProfile(endpoint="/users/me", algorithm="opaque", token_endpoint="/token",
                              username=username, password=password, scope=scope)
    return Target(name=name, kind="resource-server", base_url=base_url.rstrip("/"), resource=profile)


@dataclass
class Verdict:
    id: str
    verdict: str
    problems: list[str] = field(default_factory=list)
    reason: str = ""


async def judge(scenarios: list[Scenario], target, session) -> dict[str, Verdict]:
    """Run each scenario like the runner does (disruptive ones last, in order) and return the verdicts."""
    kit = await askit.build_kit(target, session)
    caps = askit.capabilities(target)
    out: dict[str, Verdict] = {}
    ordered = [s for s in scenarios if "disruptive" not in s.tags] + [s for s in scenarios if "disruptive" in s.tags]
    for s in ordered:
        missing = set(s.needs) - caps
        if missing:
            out[s.id] = Verdict(s.id, "not-applicable", reason=f"needs {sorted(missing)}")
            continue
        try:
            observations = await s.mutate(kit)
        except NotApplicable as exc:
            out[s.id] = Verdict(s.id, "not-applicable", reason=str(exc))
            continue
        except Exception as exc:  # noqa: BLE001 - reported, the test asserts there is none
            out[s.id] = Verdict(s.id, "error", reason=f"{type(exc).__name__}: {exc}")
            continue
        problems = [p for o in observations for p in s.expect(o)]
        texts = [f"{o.label}: {p}" for o in observations for p in s.expect(o)]
        if not problems:
            out[s.id] = Verdict(s.id, "pass")
        elif all(str(p).startswith("no response") for p in problems):
            out[s.id] = Verdict(s.id, "error", texts, reason="no response from the target")
        else:
            vulnerable = any(impact_of(p) == "vulnerability" for p in problems)
            out[s.id] = Verdict(s.id, "fail" if vulnerable else "deviation", texts)
    return out


def failing(verdicts: dict[str, Verdict]) -> set[str]:
    """Scenarios with a finding (a vulnerability or a deviation)."""
    return {v.id for v in verdicts.values() if v.verdict in ("fail", "deviation")}


def findings(verdicts: dict[str, Verdict]) -> dict[str, str]:
    """id -> "fail" (a vulnerability) or "deviation", for the scenarios with a finding."""
    return {v.id: v.verdict for v in verdicts.values() if v.verdict in ("fail", "deviation")}


def errors(verdicts: dict[str, Verdict]) -> dict[str, str]:
    return {v.id: v.reason for v in verdicts.values() if v.verdict == "error"}
