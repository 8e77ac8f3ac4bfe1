"""Server settings: one frozen dataclass for every server, filled from the command line and environment.

Each server reads only the fields it needs. Defaults are the secure ones; tests and the conformance runner
make throwaway settings with ``Settings(...)`` or ``dataclasses.replace``.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_PORTS = {"backend": 9000, "backend2": 9000, "backend3": 9000, "backend4": 9000,
                 "oauth-proxy": 9001, "frontend": 8080}


@dataclass(frozen=True)
class Settings:
    name: str = "backend"
    host: str = "127.0.0.1"
    port: int = 9000
    data_dir: Path = Path(".oauthlab")
    keys_dir: Path = Path("keys")
    # Public base URL of this server; issuer and audience default to it.
    public_url: str | None = None
    issuer: str | None = None
    audience: str | None = None
    access_token_ttl: int = 1800
    leeway: int = 30
    max_body: int = 64 * 1024
    bcrypt_rounds: int = 12
    throttle_max_failures: int = 5
    throttle_window: int = 300
    # Storage: None = SQLite file under data_dir; "redis://..." = Redis (oauth-proxy across instances).
    store_url: str | None = None
    # backend4 / frontend: where the authorization server is and what this resource is called.
    upstream_issuer: str | None = None
    jwks_uri: str | None = None
    # backend4: the issuer's list of revoked access-token jtis (default: its metadata's
    # revocation_list_endpoint) and how often it is polled, in seconds.
    revocation_list_uri: str | None = None
    revocation_poll_interval: float = 5.0
    # backend4: an unknown kid refetches the issuer's JWKS at most this often (seconds).
    jwks_refetch_interval: float = 30.0
    frontend_api: str | None = None
    # oauth-proxy: trusted external issuers for token exchange (list of dicts from a TOML/JSON file).
    trusted_issuers: tuple = ()
    # oauth-proxy: extra SPA base URLs (<url>/callback is added to the frontend client) and resource
    # base URLs (<url>/docs/oauth2-redirect.html added to backend4-docs; the first is the default audience).
    frontend_urls: tuple[str, ...] = ()
    resource_urls: tuple[str, ...] = ()
    extra: dict = field(default_factory=dict, hash=False, compare=False)

    @property
    def base_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def token_issuer(self) -> str:
        return self.issuer or self.base_url

    @property
    def token_audience(self) -> str:
        return self.audience or self.base_url


def env_int(name: str, default: int) -> int:
    """Read an integer from the environment; a bad value is a configuration error, not a crash later."""
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from exc


class ConfigError(Exception):
    """A setting is missing or wrong: the CLI prints it as one line and exits 2."""
