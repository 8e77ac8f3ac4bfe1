"""``run.py fuzz --api NAME``: schemathesis against one of our servers' OpenAPI documents.

The server is started for real (``run.py serve NAME`` in a throwaway directory, on a free 127.0.0.1 port),
a valid credential is obtained the way a client would (the password grant with every declared scope for
the password servers; client_credentials from a real oauth-proxy for backend4; for oauth-proxy itself, whose
endpoints take client authentication, the seeded m2m client's secret as client_secret_basic; none for the
frontend), and schemathesis generates requests from ``/openapi.json`` with it (cli/schemathesis_run.py says
what is checked). Exit 0 clean, 1 findings, 2 usage or start-up error. ``tests/test_schemathesis.py`` runs
the same functions in the test suite.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from collections.abc import Iterator

from . import processes
from .schemathesis_run import DEFAULT_EXAMPLES, DEFAULT_SEED, FuzzReport, fuzz_url

ROOT = Path(__file__).resolve().parent.parent


# -- our servers: start one, get a token --------------------------------------------------------------
def _get_json(url: str, *, data: bytes | None = None, headers: dict | None = None) -> tuple[int, dict]:
    req = urllib.request.Request(url, data=data, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        try:
            return e.code, json.loads(e.read() or b"null")
        except ValueError:
            return e.code, {}


@contextlib.contextmanager
def serve(name: str, directory: Path, *extra: str, port: int | None = None) -> Iterator[str]:
    """``run.py serve NAME`` in a subprocess with its data and keys under ``directory``; yields its URL.
    bcrypt cost 4 unless OAUTHLAB_BCRYPT_ROUNDS says otherwise: the cost changes time, not answers."""
    env = {"OAUTHLAB_BCRYPT_ROUNDS": os.environ.get("OAUTHLAB_BCRYPT_ROUNDS", "4")}
    with processes.serve(name, directory, *extra, port=port, env=env) as (base, _proc):
        yield base


def password_token(base_url: str, username: str = "johndoe", password: str = "secret",
                   scopes: list[str] | None = None) -> str:
    """A token from the server's password flow, with ``scopes`` (default: every scope its document
    declares)."""
    status, doc = _get_json(base_url + "/openapi.json")
    declared: list[str] = []
    token_url = "/token"
    for scheme in (doc.get("components", {}).get("securitySchemes", {}) or {}).values():
        flow = (scheme.get("flows") or {}).get("password")
        if flow:
            declared = list(flow.get("scopes", {}))
            token_url = flow.get("tokenUrl", token_url)
    scopes = declared if scopes is None else scopes
    form = {"grant_type": "password", "username": username, "password": password}
    if scopes:
        form["scope"] = " ".join(scopes)
    status, body = _get_json(urllib.parse.urljoin(base_url + "/", token_url.lstrip("/")),
                             data=urllib.parse.urlencode(form).encode(),
                             headers={"Content-Type": "application/x-www-form-urlencoded"})
    if status != 200 or "access_token" not in body:
        error = body.get("error") if isinstance(body, dict) else None
        raise RuntimeError(f"could not obtain a token from {base_url}{token_url}: {status} {error}")
    return body["access_token"]


def client_credentials_token(issuer: str, keys_dir: Path, resource: str, scope: str = "me items") -> str:
    """A token from oauth-proxy's client_credentials grant (RFC 6749 §4.4) for its seeded ``m2m`` client,
    whose secret the proxy wrote to ``keys_dir/client-secret-m2m`` on first start."""
    import base64
    secret = (keys_dir / "client-secret-m2m").read_text().strip()
    basic = base64.b64encode(f"m2m:{secret}".encode()).decode()
    status, body = _get_json(issuer + "/token", data=urllib.parse.urlencode(
        {"grant_type": "client_credentials", "scope": scope, "resource": resource}).encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded", "Authorization": f"Basic {basic}"})
    if status != 200 or "access_token" not in body:
        error = body.get("error") if isinstance(body, dict) else None
        raise RuntimeError(f"could not obtain a client_credentials token from {issuer}: {status} {error}")
    return body["access_token"]


def has_openapi(base_url: str) -> bool:
    try:
        return _get_json(base_url + "/openapi.json")[0] == 200
    except OSError:
        return False


PASSWORD_SERVERS = ("backend", "backend2", "backend3")
FUZZABLE = (*PASSWORD_SERVERS, "backend4", "oauth-proxy", "frontend")


def m2m_credentials(keys_dir: Path) -> tuple[str, str]:
    """The seeded confidential client of oauth-proxy: ``m2m`` and the secret the proxy wrote to
    ``keys_dir/client-secret-m2m`` (0600) on its first start."""
    return "m2m", (keys_dir / "client-secret-m2m").read_text().strip()


@contextlib.contextmanager
def running_api(name: str, directory: Path) -> Iterator[tuple[str, str | tuple[str, str] | None]]:
    """Start server ``name`` (and whatever it needs) under ``directory``; yield (base URL, credential):
    a bearer token for the resource servers, (client_id, secret) for oauth-proxy, whose protected routes
    take client authentication (RFC 6749 §2.3.1), not tokens."""
    if name in PASSWORD_SERVERS:
        with serve(name, directory) as base:
            yield base, password_token(base)
        return
    if name == "oauth-proxy":
        with serve("oauth-proxy", directory) as base:
            yield base, m2m_credentials(directory / "keys")
        return
    if name == "backend4":
        port = processes.free_port()
        resource = f"http://127.0.0.1:{port}"
        with serve("oauth-proxy", directory, "--resource-url", resource) as issuer, \
                serve("backend4", directory, "--upstream-issuer", issuer, port=port) as base:
            yield base, client_credentials_token(issuer, directory / "keys", resource)
        return
    if name == "frontend":  # nothing protected; /config.json discovers a real oauth-proxy
        with serve("oauth-proxy", directory) as issuer, \
                serve("frontend", directory, "--upstream-issuer", issuer) as base:
            yield base, None
        return
    raise ValueError(f"no fuzz set-up for {name!r}")


def fuzz_running(base: str, credential, *, api: str, examples: int = DEFAULT_EXAMPLES,
                 seed: int = DEFAULT_SEED) -> FuzzReport:
    """fuzz_url with what running_api yielded: a bearer token or client credentials."""
    if isinstance(credential, tuple):
        return fuzz_url(base, api=api, basic=credential, examples=examples, seed=seed)
    return fuzz_url(base, api=api, token=credential, examples=examples, seed=seed)


def fuzz_api(name: str, *, examples: int = DEFAULT_EXAMPLES, seed: int = DEFAULT_SEED,
             directory: Path | None = None) -> FuzzReport:
    """Start our server ``name`` in a throwaway directory, get a credential, run schemathesis against it."""
    with contextlib.ExitStack() as stack:
        if directory is None:
            directory = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix=f"oauthlab-{name}-")))
        with running_api(name, directory) as (base, credential):
            if not has_openapi(base):
                raise RuntimeError(f"{name} serves no /openapi.json yet: nothing to fuzz")
            return fuzz_running(base, credential, api=name, examples=examples, seed=seed)


def run(args: argparse.Namespace) -> int:
    """Entry point for ``run.py fuzz --api NAME [--examples N] [--seed S]``: 0 clean, 1 findings, 2 usage."""
    name = getattr(args, "api", None)
    examples = getattr(args, "examples", None)
    examples = DEFAULT_EXAMPLES if examples is None else examples
    seed = getattr(args, "seed", None)
    seed = DEFAULT_SEED if seed is None else seed
    if name not in FUZZABLE:
        print(f"error: --api must be one of {', '.join(FUZZABLE)}, got {name!r}", file=sys.stderr)
        return 2
    if examples < 1:
        print("error: --examples must be at least 1", file=sys.stderr)
        return 2
    import importlib.util
    if importlib.util.find_spec("schemathesis") is None:
        print("error: schemathesis is not installed (pip install -e '.[test]')", file=sys.stderr)
        return 2
    try:
        report = fuzz_api(name, examples=examples, seed=seed)
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(report.summary())
    return 0 if report.clean else 1
