"""The servers by their CLI names. Imported lazily so each server's dependencies load only when used."""
from __future__ import annotations

import importlib
from typing import Callable

from aiohttp import web

from .common.settings import Settings

SERVERS: dict[str, str] = {
    "backend": "servers.backend",
    "backend2": "servers.backend2",
    "backend3": "servers.backend3",
    "oauth-proxy": "servers.oauth_proxy",
    "backend4": "servers.backend4",
    "frontend": "servers.frontend",
}


def app_factory(name: str) -> Callable[[Settings], web.Application]:
    return importlib.import_module(SERVERS[name]).create_app
