"""What a run will do for one target, before (or without) running it: the runner's own ``TargetRun`` with
its capabilities found as the run finds them (``prepare``: reach the target, get tokens; optionally one
sign-in) or, offline, from the profile alone. Used by ``run.py profile check`` and the pytest plugin's collection."""
from __future__ import annotations

import asyncio
from collections.abc import Sequence

import aiohttp

from . import capabilities, runner
from .listener import Listener
from .rskit import TargetUnavailable
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
    tr = _run(target, catalog)      # the profile's capabilities (harness.capabilities)
    r = target.resource
    if r is not None:
        tr.caps |= {"valid_token", "narrow_token"} | (set() if r.opaque else {"jwt", "jwks"})
    return tr


class NotReady(Exception):
    """The target cannot be prepared as the run would prepare it: one line saying why."""


async def prepared(target: Target, catalog: Sequence[Scenario], sign_in: bool = False) -> runner.TargetRun:
    """Capabilities as the run finds them (``sign_in``: also walk one authorization request through the
    login, as the authorization-server scenarios will). Raises NotReady."""
    listener = await Listener().start()
    tr = _run(target, catalog)
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10),
                                         cookie_jar=aiohttp.DummyCookieJar()) as session:
            tr.session, tr.listener = session, listener
            try:
                await tr.prepare()
                if tr.as_kit_error:
                    raise NotReady(f"the authorization-server scenarios cannot start: {tr.as_kit_error}")
                if sign_in and tr.as_kit is not None and "authorization_code" in tr.caps:
                    await _sign_in(tr.as_kit)
                return tr
            except TargetUnavailable as exc:
                raise NotReady(str(exc)) from None
            finally:
                await tr.close()
    finally:
        await listener.stop()


async def _sign_in(kit) -> None:
    """One authorization request through login and consent must end with a code."""
    authz = await kit.authorize(label="sign-in check")
    if not authz.code:
        why = authz.walk.stopped + (f", error={authz.error}" if authz.error else "")
        raise NotReady(f"signing in with the profile's user did not return a code ({why})")


def applicable_half(tr: runner.TargetRun, s: Scenario) -> bool:
    """The profile has the table this scenario talks to (it may still lack a finer capability)."""
    return not set(tr.missing(s)) & SECTION_NEEDS


def reason(tr: runner.TargetRun, s: Scenario) -> str:
    """Why this scenario will not run ("" if it will), in the runner's words."""
    need = tr.missing(s)
    need = [n for n in need if n in SECTION_NEEDS] or need
    return capabilities.reason(need)
