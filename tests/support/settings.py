"""Throwaway settings, free ports, and real servers in subprocesses."""
from __future__ import annotations

import contextlib
from dataclasses import replace
from pathlib import Path

from cli.processes import free_port, serve, wait_http  # noqa: F401 - re-exported for the tests
from servers.common.settings import Settings

ROOT = Path(__file__).resolve().parent.parent.parent
FAST_BCRYPT = 4  # tests only: the cost factor does not change behaviour, only time


def make_settings(tmp_path: Path, name: str = "backend", **overrides) -> Settings:
    """Settings for an in-process app with its own throwaway data and keys."""
    base = Settings(name=name, port=9000, data_dir=tmp_path / "data", keys_dir=tmp_path / "keys",
                    bcrypt_rounds=FAST_BCRYPT)
    return replace(base, **overrides)


@contextlib.contextmanager
def live_server(name: str, tmp_path: Path, *args: str, port: int | None = None, env: dict | None = None):
    """Run ``python run.py serve NAME`` for real in a subprocess; yields its base URL."""
    with serve(name, tmp_path, *args, port=port, env=env, log_level=None) as (base, _proc):
        yield base
