"""Every server's OpenAPI document is truthful and schemathesis finds nothing.

Each server is started for real (``run.py serve NAME`` in a throwaway directory), a valid token is
obtained the way a client would, and schemathesis generates a bounded, seeded set of requests from
``/openapi.json`` (cli/fuzz_api.py). A finding is a bug in the server or in its document.

The harness itself is checked first against a deliberately broken API, so that a clean result on our
servers means something: it must report a 500, a response that breaks its schema, an undocumented
status, and a route that declares OAuth2 security but answers without a token.
"""
from __future__ import annotations

import argparse
import asyncio
import threading

import pytest
from aiohttp import web

from cli import fuzz_api
from tests.support.settings import free_port

EXAMPLES = 25
SEED = 20261129


# -- the harness can fail -------------------------------------------------------------------------------
def _broken_document() -> dict:
    ok = {"description": "OK", "content": {"application/json": {"schema": {
        "type": "object", "required": ["status"], "properties": {"status": {"type": "string"}}}}}}
    err = {"description": "error", "content": {"application/json": {"schema": {"type": "object"}}}}
    return {
        "openapi": "3.0.3", "info": {"title": "broken on purpose", "version": "1"},
        "components": {"securitySchemes": {"OAuth2": {"type": "oauth2", "flows": {
            "password": {"tokenUrl": "/token", "scopes": {}}}},
            "client_secret_basic": {"type": "http", "scheme": "basic"}}},
        "paths": {
            "/open": {"get": {"security": [{"OAuth2": []}], "responses": {"200": ok, "401": err}}},
            "/crash": {"get": {"parameters": [{"name": "n", "in": "query", "required": True,
                                                "schema": {"type": "integer"}}],
                               "responses": {"200": ok, "400": err}}},
            "/wrong": {"get": {"responses": {"200": ok}}},
            "/open-basic": {"get": {"security": [{"client_secret_basic": []}],
                                    "responses": {"200": ok, "401": err}}},
        },
    }


def _broken_app() -> web.Application:
    async def openapi(request):
        return web.json_response(_broken_document())

    async def open_route(request):  # declares OAuth2 security, checks nothing
        return web.json_response({"status": "ok"})

    async def crash(request):
        try:
            n = int(request.query["n"])
        except (KeyError, ValueError):
            return web.json_response({"error": "bad"}, status=400)
        if n < 0:
            return web.json_response({"error": "boom"}, status=500)
        return web.json_response({"status": "ok"})

    async def wrong(request):  # the schema says status is a string
        return web.json_response({"status": 1})

    app = web.Application()
    app.add_routes([web.get("/openapi.json", openapi), web.get("/open", open_route), web.get("/crash", crash),
                    web.get("/wrong", wrong), web.get("/open-basic", open_route)])
    return app


@pytest.fixture
def broken_api():
    """The broken app on a real port, served from its own thread and loop (schemathesis is synchronous)."""
    port = free_port()
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(_broken_app())
    ready = threading.Event()

    def serve():
        asyncio.set_event_loop(loop)
        loop.run_until_complete(runner.setup())
        loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", port).start())
        ready.set()
        loop.run_forever()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    assert ready.wait(10)
    yield f"http://127.0.0.1:{port}"
    asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)


def test_fuzzer_reports_server_errors_schema_violations_and_ignored_auth(broken_api):
    """The fuzz run must be able to fail: on an API broken on purpose it reports each kind of problem,
    including RFC 6750 §3.1 (a protected resource answers a request without a token with 401)."""
    report = fuzz_api.fuzz_url(broken_api, api="broken", token="not-a-real-token", examples=EXAMPLES,
                               seed=SEED)
    found = {(f.operation, f.check) for f in report.findings}
    assert ("GET /crash", "not_a_server_error") in found
    assert ("GET /crash", "status_code_conformance") in found
    assert ("GET /wrong", "response_schema_conformance") in found
    assert ("GET /open", "bearer_auth_enforced") in found
    assert not report.clean
    assert "not-a-real-token" not in report.summary()  # evidence never shows a whole token


def test_fuzzer_reports_a_route_that_ignores_client_authentication(broken_api):
    """RFC 6749 §2.3.1 / §5.2: a route secured by client_secret_basic (as oauth-proxy's /introspect) that
    answers without credentials is reported, by schemathesis's own ignored_auth; the secret is never shown."""
    report = fuzz_api.fuzz_url(broken_api, api="broken", basic=("some-client", "sEcReT-value-42"),
                               examples=EXAMPLES, seed=SEED)
    found = {(f.operation, f.check) for f in report.findings}
    assert ("GET /open-basic", "ignored_auth") in found, report.summary()
    assert "sEcReT-value-42" not in report.summary()


# -- our servers ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["backend", "backend2", "backend3", "backend4", "frontend"])
def test_schemathesis_finds_nothing_on_our_servers(tmp_path, name):
    """A schemathesis run against each server (with a valid token for the protected routes)
    finds no server error, no response that breaks the schema, and no route that ignores missing auth.
    backend4's token comes from a real oauth-proxy (client_credentials, audience = this backend4); the
    frontend has no protected route and discovers a real oauth-proxy for its /config.json."""
    report = fuzz_api.fuzz_api(name, examples=EXAMPLES, seed=SEED, directory=tmp_path)
    assert report.operations >= 3 and report.cases >= 3 * report.operations, report.summary()
    assert report.clean, report.summary()


def test_schemathesis_with_a_narrow_token_checks_the_documented_403(tmp_path):
    """RFC 6750 §3.1: a token without the needed scope gets 403 insufficient_scope with a Bearer challenge;
    with a token carrying only ``me``, backend3's /users/me/items answers 403 on every case, and each such
    answer must match the document (status, JSON error body, WWW-Authenticate header)."""
    with fuzz_api.serve("backend3", tmp_path) as base:
        token = fuzz_api.password_token(base, scopes=["me"])
        report = fuzz_api.fuzz_url(base, api="backend3", token=token, examples=EXAMPLES, seed=SEED,
                                   require_accepted=False)
    assert report.clean, report.summary()
    assert 403 in report.statuses["GET /users/me/items"]
    assert not any(200 <= s < 300 for s in report.statuses["GET /users/me/items"])
    assert 200 in report.statuses["GET /users/me"]


def test_schemathesis_finds_nothing_on_oauth_proxy(tmp_path):
    """The same for oauth-proxy, whose protected routes take client authentication (RFC 6749 §2.3.1), not
    tokens: the run sends the seeded m2m client's client_secret_basic, /introspect (which requires it) must
    accept it, and schemathesis's ignored_auth probes it without and with wrong credentials. The generated
    cases reach a token response, the introspection answer and both kinds of /authorize answer."""
    with fuzz_api.running_api("oauth-proxy", tmp_path) as (base, credential):
        assert credential[0] == "m2m"
        report = fuzz_api.fuzz_running(base, credential, api="oauth-proxy", examples=EXAMPLES, seed=SEED)
    assert report.clean, report.summary()
    assert report.operations >= 12, report.summary()
    assert 200 in report.statuses["POST /token"] and 200 in report.statuses["POST /introspect"]
    assert {302, 400} <= report.statuses["GET /authorize"]
    assert credential[1] not in report.summary()


def test_a_token_that_is_never_accepted_is_reported(tmp_path):
    """A run whose token no protected route accepts proves nothing about missing auth: it is an error,
    not a clean result."""
    with fuzz_api.serve("backend3", tmp_path) as base:
        report = fuzz_api.fuzz_url(base, api="backend3", token="not-a-valid-token", examples=3, seed=SEED)
    assert not report.clean
    never = [e for e in report.errors if e.startswith("GET /users/me: our token was never accepted")]
    assert never, report.errors


def test_fuzz_command_exit_codes(tmp_path, capsys):
    """run.py fuzz --api NAME: 0 clean (with a summary), 2 for a name that is not a server we can fuzz."""
    assert fuzz_api.run(argparse.Namespace(api="backend", examples=3, seed=1)) == 0
    out = capsys.readouterr().out
    assert out.startswith("schemathesis on backend (http://127.0.0.1:") and "0 findings, 0 errors" in out
    assert fuzz_api.run(argparse.Namespace(api="nope", examples=3, seed=1)) == 2
    assert "--api must be one of" in capsys.readouterr().err
    assert fuzz_api.run(argparse.Namespace(api="backend", examples=0, seed=1)) == 2


async def test_frontend_document_describes_every_registered_route(aiohttp_client, tmp_path):
    """Every server's OpenAPI document describes all its routes, the frontend's too (its static
    files as /static/{filename}, the names enumerated), and /docs serves Swagger UI from the package."""
    from servers import frontend
    from tests.support.openapi import documented_operations, routed_operations
    from tests.support.settings import make_settings

    nobody = f"http://127.0.0.1:{free_port()}"  # /config.json is not called here
    app = frontend.create_app(make_settings(tmp_path, "frontend", port=8080, upstream_issuer=nobody))
    client = await aiohttp_client(app)
    document = await (await client.get("/openapi.json")).json()
    assert documented_operations(document) == routed_operations(app)
    names = document["paths"]["/static/{filename}"]["get"]["parameters"][0]["schema"]["enum"]
    assert {"app.js", "style.css"} <= set(names)
    missing = await client.get("/static/nope.js")
    assert missing.status == 404 and (await missing.json())["error"] == "not_found"
    page = await client.get("/docs")
    assert page.status == 200 and "/docs/static/swagger-ui-bundle.js" in await page.text()
    assert (await client.get("/docs/static/swagger-ui-bundle.js")).status == 200
