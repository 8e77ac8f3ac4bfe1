"""What a run will do for one target, before (or without) running it: the runner's own ``TargetRun`` with
its capabilities found as the run finds them (``prepare``: reach the target, get tokens, log in) or, offline,
from the profile alone. Used by ``run.py profile check`` and the pytest plugin's collection."""
from __future__ import annotations

import asyncio
from collections.abc import Sequence

import aiohttp

from . import runner
from .listener import Listener
from .rskit import TargetUnavailable, static_capabilities
from .scenario import Scenario
from .targets import Target

# Needs that say a whole half of the catalog does not apply (the profile has no such table).
SECTION_NEEDS = frozenset({"resource", "authorization_server", "token_endpoint", "askit"})
# Capabilities only the target can show (a token obtained, its keys, its token format).
DYNAMIC = frozenset({"valid_token", "jwt", "jwks", "narrow_token"})


def _run(target: Target, catalog: Sequence[Scenario]) -> runner.TargetRun:
    return runner.TargetRun(target, list(catalog), None, None, asyncio.Semaphore(1),  # type: ignore[arg-type]
                            runner.Progress(0, enabled=False))


def offline(target: Target, catalog: Sequence[Scenario]) -> runner.TargetRun:
    """Capabilities from the profile alone; what only the target can show is assumed to be there."""
    tr = _run(target, catalog)
    tr.caps = set(static_capabilities(target))
    if tr.askit_mod is not None:
        tr.caps |= {"askit"} | set(tr.askit_mod.capabilities(target))
    r = target.resource
    if r is not None:
        tr.caps |= {"valid_token", "narrow_token"} | (set() if r.opaque else {"jwt", "jwks"})
    return tr


async def prepared(target: Target, catalog: Sequence[Scenario]) -> tuple[runner.TargetRun, str]:
    """Capabilities as the run finds them; falls back to ``offline`` (with the reason) if the target cannot
    be prepared."""
    listener = await Listener().start()
    tr = _run(target, catalog)
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10),
                                         cookie_jar=aiohttp.DummyCookieJar()) as session:
            tr.session, tr.listener = session, listener
            try:
                await tr.prepare()
                return tr, ""
            except TargetUnavailable as exc:
                return offline(target, catalog), f"the target could not be prepared ({exc})"
            finally:
                await tr.close()
    finally:
        await listener.stop()


def applicable_half(tr: runner.TargetRun, s: Scenario) -> bool:
    """The profile has the table this scenario talks to (it may still lack a finer capability)."""
    return not set(tr.missing(s)) & SECTION_NEEDS


def reason(tr: runner.TargetRun, s: Scenario) -> str:
    """Why this scenario will not run ("" if it will), in the runner's words."""
    need = tr.missing(s)
    need = [n for n in need if n in SECTION_NEEDS] or need
    reasons = {**getattr(tr.askit_mod, "NEED_REASONS", {}), **runner.NEED_REASONS}
    return "; ".join(reasons.get(n, f"needs {n}") for n in need)
