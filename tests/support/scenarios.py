"""A minimal resource-server Scenario for tests of the reports and baselines."""
from __future__ import annotations

from harness import checks
from harness.scenario import Scenario


def scenario(id: str, control: bool = False) -> Scenario:
    """A critical RS scenario named ``id`` (family = its first word) that sends nothing."""
    return Scenario(id=id, summary=f"summary of {id}", refs=("RFC 9068 §4",), applies_to="resource-server",
                    severity="critical", mutate=lambda kit: [], expect=checks.invalid_token, family=id.split("-")[0],
                    control=control)
