"""The attack catalog as data: ``CATALOG`` (a plain list of frozen Scenario objects, in catalog order) and
``NOT_APPLICABLE`` (catalog rows deliberately left out, with the reason; shown by ``--list`` and the README).

One module per family; every family listed here must import (a missing or broken one is an error, never a
catalog that silently shrinks).
"""
from __future__ import annotations

import importlib

from harness.scenario import Scenario

RS_FAMILIES = ("sig", "key", "claims", "audience", "fmt", "bearer", "hygiene_rs")
AS_FAMILIES = ("pkce", "redirect", "token_endpoint", "refresh", "hygiene_as")


def _load(name: str):
    """The family module ``conformance.<name>``; raises (ImportError names it) if it is missing or broken."""
    try:
        return importlib.import_module(f"conformance.{name}")
    except ModuleNotFoundError as exc:
        if exc.name == f"conformance.{name}":
            raise ImportError(f"catalog family {name!r} is missing (conformance/{name}.py)", name=exc.name) from None
        raise


def _assemble() -> tuple[list[Scenario], dict[str, str]]:
    catalog: list[Scenario] = []
    not_applicable: dict[str, str] = {}
    for name in RS_FAMILIES + AS_FAMILIES:
        module = _load(name)
        catalog.extend(getattr(module, "SCENARIOS", []))
        not_applicable.update(getattr(module, "NOT_APPLICABLE", {}))
    ids = [s.id for s in catalog]
    dupes = {i for i in ids if ids.count(i) > 1}
    if dupes:
        raise RuntimeError(f"duplicate scenario ids in the catalog: {sorted(dupes)}")
    return catalog, not_applicable


CATALOG, NOT_APPLICABLE = _assemble()
