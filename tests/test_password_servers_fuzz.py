"""Never a 500 on any input: hypothesis throws arbitrary bodies at /token and arbitrary Authorization
headers at /users/me of the password servers (one fresh app per example, as the design asks)."""
from __future__ import annotations

import tempfile
from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from servers import backend, backend3

from .conftest import make_settings

form_pairs = st.lists(st.tuples(st.sampled_from(["grant_type", "username", "password", "scope", "x", ""]),
                                st.text(max_size=20)), max_size=6)
bodies = st.one_of(st.binary(max_size=300),
                   form_pairs.map(lambda ps: "&".join(f"{k}={v}" for k, v in ps).encode("utf-8", "surrogatepass")))
content_types = st.sampled_from(["application/x-www-form-urlencoded", "application/json", "text/plain",
                                 "multipart/form-data; boundary=x", "application/x-www-form-urlencoded; charset=latin-1"])
# RFC 7230 field-value characters (what an HTTP client can send at all)
header_values = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=120)
auth_headers = st.one_of(header_values, header_values.map(lambda v: "Bearer " + v))

FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(body=bodies, ctype=content_types)
async def test_token_endpoint_never_answers_5xx(body, ctype):
    s = make_settings(Path(tempfile.mkdtemp()), "backend3")
    async with TestClient(TestServer(backend3.create_app(s))) as client:
        resp = await client.post("/token", data=body, headers={"Content-Type": ctype})
        assert resp.status in (200, 400, 413, 429), resp.status
        assert resp.headers["Cache-Control"] == "no-store"
        if resp.status != 200:
            assert (await resp.json())["error"] in {"invalid_request", "invalid_grant", "unsupported_grant_type",
                                                    "invalid_scope", "too_many_requests", "payload_too_large"}


@FUZZ
@given(header=auth_headers)
async def test_protected_route_answers_any_authorization_header_per_rfc6750(header):
    s = make_settings(Path(tempfile.mkdtemp()), "backend")
    async with TestClient(TestServer(backend.create_app(s))) as client:
        resp = await client.get("/users/me", headers={"Authorization": header})
        assert resp.status in (400, 401), resp.status
        assert resp.headers["WWW-Authenticate"] in ("Bearer", 'Bearer error="invalid_token"',
                                                    'Bearer error="invalid_request"')
