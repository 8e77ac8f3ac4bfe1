"""run.py flow: the Authorization Code + PKCE flow headless against a real oauth-proxy, and its discovery."""
from __future__ import annotations

import subprocess
import sys

import aiohttp
import pytest
from aiohttp import web

from cli import flow
from servers.common.settings import ConfigError
from tests.support.settings import ROOT, live_server


def test_flow_cli_completes_against_a_live_proxy(tmp_path):
    """run.py flow: discovery, PKCE, login form, code, token verified with the JWKS: exit 0;
    a wrong password exits 1; no password exits 2."""
    with live_server("oauth-proxy", tmp_path) as base:
        ok = subprocess.run([sys.executable, str(ROOT / "run.py"), "flow", "--issuer", base, "--password-stdin",
                             "--api", base + "/.well-known/jwks.json"], input="secret\n", capture_output=True,
                            text=True, cwd=ROOT, timeout=60)
        assert ok.returncode == 0, ok.stdout + ok.stderr
        for step in ("code_verifier", "code_challenge", "code ", '"gty": "authorization-code"', '"typ": "at+jwt"',
                     "signature        valid"):
            assert step in ok.stdout
        assert "secret" not in ok.stdout
        bad = subprocess.run([sys.executable, str(ROOT / "run.py"), "flow", "--issuer", base, "--password-stdin"],
                             input="wrong\n", capture_output=True, text=True, cwd=ROOT, timeout=60)
        assert bad.returncode == 1 and "login refused" in bad.stderr
    none = subprocess.run([sys.executable, str(ROOT / "run.py"), "flow"], capture_output=True, text=True,
                          cwd=ROOT, timeout=60, env={"PATH": "/usr/bin:/bin", "NO_COLOR": "1"})
    assert none.returncode == 2 and "no password" in none.stderr


@pytest.fixture
async def issuer_with_path(aiohttp_server):
    """An authorization server whose issuer has a path (``/tenant``), publishing its metadata only where
    RFC 8414 §3.1 puts it: the well-known segment between the host and the path."""
    state: dict = {}

    async def metadata(request: web.Request) -> web.Response:
        state["hits"] = state.get("hits", 0) + 1
        base = state["issuer"]
        return web.json_response({"issuer": base, "authorization_endpoint": base + "/authorize",
                                  "token_endpoint": base + "/token", "jwks_uri": base + "/jwks",
                                  "code_challenge_methods_supported": ["S256"]})

    app = web.Application()
    app.router.add_get("/.well-known/oauth-authorization-server/tenant", metadata)
    server = await aiohttp_server(app)
    state["issuer"] = str(server.make_url("/tenant"))
    return state


async def test_discovery_inserts_the_well_known_segment_before_the_issuer_path(issuer_with_path, capsys):
    """RFC 8414 §3.1: "the well-known URI suffix ... is inserted between the host component and the path
    component" of an issuer with a path; RFC 8414 §3.3: the metadata's issuer must be that issuer."""
    async with aiohttp.ClientSession() as session:
        meta = await flow.discover(session, issuer_with_path["issuer"], flow.Printer())
    assert meta["issuer"] == issuer_with_path["issuer"] and issuer_with_path["hits"] == 1
    assert "/.well-known/oauth-authorization-server/tenant" in capsys.readouterr().out


async def test_discovery_of_an_issuer_without_metadata_is_a_configuration_error(aiohttp_server):
    """No metadata at any discovery URL of the issuer: a configuration error (exit 2), not a traceback."""
    server = await aiohttp_server(web.Application())
    async with aiohttp.ClientSession() as session:
        with pytest.raises(ConfigError, match="no authorization server metadata"):
            await flow.discover(session, str(server.make_url("/tenant")), flow.Printer())
