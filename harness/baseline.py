"""Baselines: findings a team has reviewed and accepted, so the harness can gate CI on everything else.

A baseline file (TOML or JSON, chosen by the extension; ``.toml`` unless it ends in ``.json``)::

    [[accepted]]
    target = "my-api"                  # the profile's name
    id = "bearer-two-methods"          # the scenario id
    reason = "the gateway strips the query token before it reaches the API (ticket SEC-42)"
    expires = 2027-06-30               # optional: from this day on the finding counts again

(JSON: ``{"accepted": [{"target": ..., "id": ..., "reason": ..., "expires": "2027-06-30"}]}``.)

A finding matched by an entry that has not expired is reported as *accepted* and does not fail the run
(``RunReport.failing``). Reported apart, so that the baseline never rots silently: entries that expired
(their finding fails the run again) and entries whose finding no longer occurs (the scenario passed or no
longer applies: delete the entry).
"""
from __future__ import annotations

import datetime
import json
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import tomllib

from .runner import Result, RunReport

TODO_REASON = "TODO: why accepted"
FIELDS = ("target", "id", "reason", "expires")


class BaselineError(Exception):
    """The baseline file is missing, unparsable or has a bad entry: one line; the CLI exits 2."""

    exit_code = 2


@dataclass(frozen=True)
class Entry:
    target: str
    id: str
    reason: str
    expires: datetime.date | None = None

    def expired(self, today: datetime.date) -> bool:
        return self.expires is not None and today >= self.expires

    def describe(self) -> str:
        return f"{self.target}: {self.id}"


def _date(value: Any, where: str) -> datetime.date | None:
    if value is None:
        return None
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    if isinstance(value, str):
        try:
            return datetime.date.fromisoformat(value)
        except ValueError:
            pass
    raise BaselineError(f"{where}: expires must be a date (YYYY-MM-DD), got {value!r}")


def parse(data: Any, source: str = "baseline") -> list[Entry]:
    """Entries from the parsed file; every error names the entry and the field."""
    if not isinstance(data, dict) or not isinstance(data.get("accepted", []), list):
        raise BaselineError(f"{source}: expected a list of [[accepted]] entries")
    unknown = set(data) - {"accepted"}
    if unknown:
        raise BaselineError(f"{source}: unknown top-level key {sorted(unknown)[0]!r} (only 'accepted')")
    out: list[Entry] = []
    for n, raw in enumerate(data.get("accepted", []), 1):
        where = f"{source}: accepted entry {n}"
        if not isinstance(raw, dict):
            raise BaselineError(f"{where}: must be a table with target, id, reason")
        extra = set(raw) - set(FIELDS)
        if extra:
            raise BaselineError(f"{where}: unknown field {sorted(extra)[0]!r} (fields: {', '.join(FIELDS)})")
        for name in ("target", "id", "reason"):
            if not isinstance(raw.get(name), str) or not raw[name].strip():
                raise BaselineError(f"{where}: {name} is missing or empty")
        out.append(Entry(raw["target"], raw["id"], raw["reason"].strip(), _date(raw.get("expires"), where)))
    return out


def load(path: str | Path) -> list[Entry]:
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise BaselineError(f"{path}: no such baseline file") from None
    except OSError as exc:
        raise BaselineError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    try:
        data = json.loads(raw) if path.suffix == ".json" else tomllib.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise BaselineError(f"{path}: not valid {'JSON' if path.suffix == '.json' else 'TOML'} ({exc})") from None
    return parse(data, str(path))


@dataclass
class Outcome:
    """What a baseline did to one run."""
    accepted: dict[tuple[str, str], Entry] = field(default_factory=dict)
    expired: list[Entry] = field(default_factory=list)      # the finding occurs, the acceptance ran out
    stale: list[tuple[Entry, str]] = field(default_factory=list)  # the finding no longer occurs (with why)

    def notes(self) -> list[str]:
        out = [f"{e.describe()}: expired on {e.expires.isoformat()}: the finding counts again (reason was: "
               f"{e.reason})" for e in self.expired if e.expires]
        out += [f"{e.describe()}: stale: {why}; remove the entry" for e, why in self.stale]
        return out


def review(entries: list[Entry], results: list[Result], today: datetime.date | None = None) -> Outcome:
    """Match entries to results. Entries for targets or scenarios that were not run are left alone."""
    today = today or datetime.date.today()
    by_key = {(r.target, r.id): r for r in results}
    out = Outcome()
    for e in entries:
        r = by_key.get((e.target, e.id))
        if r is None:
            continue
        if r.verdict in ("fail", "deviation"):
            if e.expired(today):
                out.expired.append(e)
            else:
                out.accepted[(e.target, e.id)] = e
        elif r.verdict == "pass":
            out.stale.append((e, "the scenario passes now"))
        elif r.verdict == "not-applicable":
            out.stale.append((e, f"the scenario no longer applies ({r.reason})"))
    return out


@dataclass
class ReviewedReport(RunReport):
    """A run with a baseline applied: accepted findings never fail it."""
    baseline: Outcome | None = None

    def failing(self, r: Result) -> bool:
        if self.baseline is not None and (r.target, r.id) in self.baseline.accepted:
            return False
        return super().failing(r)


def apply(report: RunReport, entries: list[Entry], today: datetime.date | None = None) -> ReviewedReport:
    """The same run, with the baseline's verdict on each finding."""
    values = {f.name: getattr(report, f.name) for f in fields(report) if f.init}
    values["baseline"] = review(entries, report.results, today)
    return ReviewedReport(**values)


def from_report(report: RunReport, reason: str = TODO_REASON) -> list[Entry]:
    """One entry per finding of the run (already accepted ones keep their reason and expiry)."""
    outcome = getattr(report, "baseline", None)
    out = []
    for r in report.results:
        if r.verdict in ("fail", "deviation"):
            kept = outcome.accepted.get((r.target, r.id)) if outcome is not None else None
            out.append(kept or Entry(r.target, r.id, reason))
    return out


def _toml_string(s: str) -> str:
    return json.dumps(s, ensure_ascii=False)  # a JSON string is a valid TOML basic string


def dumps(entries: list[Entry], fmt: str = "toml") -> str:
    if fmt == "json":
        return json.dumps({"accepted": [{"target": e.target, "id": e.id, "reason": e.reason,
                                         **({"expires": e.expires.isoformat()} if e.expires else {})}
                                        for e in entries]}, indent=2) + "\n"
    lines = ["# Accepted findings (python run.py conformance --baseline FILE). Give each a real reason; an",
             "# optional expires = YYYY-MM-DD makes the finding count again from that day.", ""]
    for e in entries:
        lines += ["[[accepted]]", f"target = {_toml_string(e.target)}", f"id = {_toml_string(e.id)}",
                  f"reason = {_toml_string(e.reason)}"]
        if e.expires:
            lines.append(f"expires = {e.expires.isoformat()}")
        lines.append("")
    return "\n".join(lines)


def write(path: str | Path, report: RunReport) -> int:
    """Write a baseline of this run's findings; returns how many entries."""
    path = Path(path)
    entries = from_report(report)
    path.write_text(dumps(entries, "json" if path.suffix == ".json" else "toml"), encoding="utf-8")
    return len(entries)
