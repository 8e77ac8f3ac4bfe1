"""A copy-paste ``curl`` command that replays one probe of a finding.

By default the command is built from the secret-free evidence (tokens shortened to ``eyJhbGci…x9Q (312
chars)``, secrets ``[redacted]``), so it shows exactly what was sent but cannot be replayed as is. With
``reveal=True`` it is built from the raw observation the evidence was made from, tokens and credentials in
full: for local use only (the CLI warns on stderr), never for a report that leaves the machine.
"""
from __future__ import annotations

import shlex
from typing import Any

# Headers curl or the HTTP stack set by themselves: repeating them only adds noise.
IMPLICIT = {"host", "content-length", "accept-encoding", "user-agent", "connection"}
SHORTENED_NOTE = "# tokens shortened and secrets redacted; run with --reveal (local use only) for a replayable command"


def _request(ev: Any, reveal: bool) -> tuple[str, str, dict[str, str], str | None, bool]:
    obs = getattr(ev, "observation", None) if reveal else None
    if obs is not None:
        return obs.method, str(obs.url), dict(obs.request_headers), obs.request_body, True
    req = ev["request"]
    return req["method"], req["url"], dict(req.get("headers") or {}), req.get("body"), False


def curl(ev: Any, reveal: bool = False) -> str:
    """The curl command for one evidence record (``harness.evidence.evidence``), one line per option, after
    a comment naming the probe."""
    method, url, headers, body, full = _request(ev, reveal)
    parts = ["curl -sS -i --globoff --path-as-is"]
    if method != "GET" or body:
        parts.append(f"-X {shlex.quote(method)}")
    parts.append(shlex.quote(url))
    for name, value in headers.items():
        if name.lower() not in IMPLICIT:
            parts.append(f"-H {shlex.quote(f'{name}: {value}')}")
    if body:
        parts.append(f"--data-binary {shlex.quote(body)}")
    command = " \\\n  ".join(parts)
    label = " ".join(str(ev.get("label") or "").split())
    lines = ([f"# probe: {label}"] if label else []) + ([] if full else [SHORTENED_NOTE]) + [command]
    return "\n".join(lines)

