"""The review options of ``run.py conformance``: ``--baseline``, ``--write-baseline``, ``--reveal`` and the
catalog's remediation advice handed to the reporters."""
from __future__ import annotations

import argparse
import sys


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--baseline", metavar="FILE",
                   help="accepted findings (TOML, or JSON if FILE ends in .json): each entry names target, "
                        "scenario id, reason and an optional expires date; accepted findings are reported but do "
                        "not fail the run; expired and stale entries are reported")
    p.add_argument("--write-baseline", metavar="FILE",
                   help="write a baseline accepting every finding of this run (reason \"TODO: why accepted\")")
    p.add_argument("--reveal", action="store_true",
                   help="print tokens and credentials in full in the curl reproductions (local use only: never "
                        "for reports that leave your machine)")


def load_baseline(args: argparse.Namespace):
    """The baseline entries (checked before anything starts, so a bad file is exit 2 at once)."""
    if not args.baseline:
        return None
    from harness import baseline
    return baseline.load(args.baseline)


def review(args: argparse.Namespace, report, entries):
    """The run with the baseline applied, the baseline written if asked, the advice for the reporters."""
    from conformance.remediation import REMEDIATION
    from harness import baseline
    if entries is not None:
        report = baseline.apply(report, entries)
    if args.write_baseline:
        n = baseline.write(args.write_baseline, report)
        print(f"wrote {args.write_baseline} ({n} accepted finding(s); give each a reason)", file=sys.stderr)
    if args.reveal:
        print("warning: --reveal: the curl reproductions carry tokens and credentials in full; keep this output "
              "local", file=sys.stderr)
    return report, REMEDIATION
