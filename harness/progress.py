"""The run's progress line: one self-rewriting line on stderr when it is a terminal (nothing otherwise)."""
from __future__ import annotations

import os
import sys
from typing import Any

from .scenario import VERDICTS


class Progress:
    """One self-rewriting line on stderr when it is a terminal (nothing otherwise). NO_COLOR respected."""

    def __init__(self, total: int, stream: Any = None, enabled: bool | None = None) -> None:
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.color = self.enabled and not os.environ.get("NO_COLOR") and os.environ.get("TERM") != "dumb"
        self.total, self.done = total, 0
        self.counts = {v: 0 for v in VERDICTS}

    def add_total(self, n: int) -> None:
        self.total += n

    def update(self, result: Any) -> None:
        self.done += 1
        self.counts[result.verdict] += 1
        if not self.enabled:
            return
        fail = f"{self.counts['fail']} fail"
        if self.color and self.counts["fail"]:
            fail = f"\x1b[31m{fail}\x1b[0m"
        line = (f"\r[{self.done}/{self.total}] {self.counts['pass']} pass, {fail}, {self.counts['deviation']} dev, "
                f"{self.counts['error']} error, {self.counts['not-applicable']} n/a  {result.target}: {result.id}")
        self.stream.write(line[:160].ljust(100))
        self.stream.flush()

    def finish(self) -> None:
        if self.enabled:
            self.stream.write("\r" + " " * 120 + "\r")
            self.stream.flush()
