"""The command line: ``python run.py COMMAND ...``. Each command lives in its own module with a
``register(subparsers)`` function; this module wires them and maps errors to exit codes
(0 ok, 1 findings/failures, 2 usage or configuration error)."""
from __future__ import annotations

import argparse
import importlib
import logging
import os
import re
import sys

from servers.common.errors import TemporarilyUnavailable
from servers.common.settings import ConfigError

COMMANDS = ("serve", "keys", "users", "clients", "flow", "conformance", "profile", "fuzz", "bench")
SERVER_NAMES = ("backend", "backend2", "backend3", "oauth-proxy", "backend4", "frontend")


class RedactSecrets(logging.Filter):
    """Defence in depth: whatever a library logs (aiohttp logs the start of an over-long header line, for
    example), credentials are replaced before the record is written."""

    PATTERNS = (re.compile(r"(?i)(bearer|basic)(\s+|\\x20|%20)[^\s'\",]+"),
                re.compile(r"eyJ[A-Za-z0-9_-]*\.?[A-Za-z0-9_.-]*"),
                re.compile(r"(?i)(password|client_secret|code_verifier|refresh_token|access_token|code)=[^&\s'\"]+"))

    def filter(self, record: logging.LogRecord) -> bool:
        msg = record.getMessage()
        clean = msg
        for pattern in self.PATTERNS:
            clean = pattern.sub(lambda m: (m.group(1) + "=" if "=" in m.group(0) and m.lastindex else "")
                                + "[redacted]", clean)
        if clean != msg:
            record.msg, record.args = clean, ()
        if record.exc_info and record.exc_info[1] is not None and record.name.startswith("aiohttp"):
            # aiohttp's parser errors repeat the offending bytes in the exception text: drop the traceback.
            record.exc_info, record.exc_text = None, None
        return True


def install_redaction() -> None:
    redact = RedactSecrets()
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, RedactSecrets) for f in handler.filters):
            handler.addFilter(redact)
    for name in ("aiohttp.server", "aiohttp.access", "aiohttp.web", "oauthlab"):
        lg = logging.getLogger(name)
        if not any(isinstance(f, RedactSecrets) for f in lg.filters):
            lg.addFilter(redact)


def setup_logging(level: str = "info") -> None:
    logging.basicConfig(level=getattr(logging, level.upper(), logging.INFO), stream=sys.stderr,
                        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s")
    install_redaction()


def color_enabled(stream=sys.stdout) -> bool:
    """Colour only on a terminal and only if NO_COLOR is unset (https://no-color.org)."""
    return stream.isatty() and not os.environ.get("NO_COLOR") and os.environ.get("TERM") != "dumb"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="run.py", description="oauthlab: OAuth 2.0 flows done right on aiohttp, and a harness that "
        "proves it. Exit codes: 0 ok, 1 findings or failures, 2 usage or configuration error.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"cli.{name}":
                continue  # a command whose module is not installed
            raise
        module.register(sub)
    return parser


def normalise_argv(argv: list[str]) -> list[str]:
    """Accept the FastAPI tutorial's form ``run.py -v backend`` (and ``run.py backend``) as ``serve``."""
    if argv and argv[0] in ("-v", "--verbose") and len(argv) > 1 and argv[1] in SERVER_NAMES:
        return ["serve", argv[1], "--log-level", "debug", *argv[2:]]
    if argv and argv[0] in SERVER_NAMES:
        return ["serve", *argv]
    return argv


def main(argv: list[str]) -> int:
    parser = build_parser()
    args = parser.parse_args(normalise_argv(argv))
    try:
        return int(args.func(args) or 0)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except TemporarilyUnavailable as exc:  # e.g. `users list --store redis://...` with Redis down
        print(f"error: {exc.reason}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `run.py ... | head`: the reader left; say nothing more
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except Exception as exc:  # noqa: BLE001 - re-raised unless it is a usage error (below)
        if getattr(exc, "exit_code", None) != 2:
            raise
        # A usage/configuration error raised where servers' ConfigError is not importable (the harness:
        # a bad profile, an unreachable target): one line, exit 2.
        print(f"error: {exc}", file=sys.stderr)
        return 2
