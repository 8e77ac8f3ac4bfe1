"""run.py clients add|list|show|remove, the seeded clients and the --frontend-url/--resource-url overlay."""
from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from dataclasses import replace

from servers.oauth_proxy import create_app
from tests.conftest import ROOT
from tests.support.proxy import authorize_params, basic, proxy_settings


def clients(tmp_path, *args: str, input: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "run.py"), "clients", *args, "--data-dir",
                           str(tmp_path / "data"), "--keys-dir", str(tmp_path / "keys")],
                          capture_output=True, text=True, cwd=ROOT, timeout=60, input=input)


def test_seeded_clients_and_m2m_secret_shown_by_clients_show(tmp_path):
    """Seeded on first use: frontend and backend4-docs (public), m2m (confidential, 256-bit secret stored as a
    SHA-256 digest; the secret itself only in keys/ with mode 0600, printed by `clients show m2m`)."""
    listed = json.loads(clients(tmp_path, "list", "--json").stdout)
    by_id = {c["client_id"]: c for c in listed}
    assert set(by_id) == {"frontend", "backend4-docs", "m2m"}
    assert by_id["frontend"]["redirect_uris"] == ["http://localhost:8080/callback", "http://127.0.0.1:8080/callback"]
    assert by_id["backend4-docs"]["audiences"] == ["http://127.0.0.1:9000"]
    assert by_id["m2m"]["type"] == "confidential" and "secret_sha256" not in by_id["m2m"]
    shown = json.loads(clients(tmp_path, "show", "m2m", "--json").stdout)
    path = tmp_path / "keys" / "client-secret-m2m"
    assert shown["client_secret"] == path.read_text().strip() and len(shown["client_secret"]) == 43
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_clients_add_validates_and_prints_the_secret_once(tmp_path):
    """RFC 9700 §2.6 (no http redirect except loopback), RFC 6749 §3.1.2 (no fragment), RFC 9700 §4.15.1
    (a client_id equal to a username is refused); exit 2 for configuration errors."""
    assert clients(tmp_path, "add", "spa", "--redirect-uri", "http://evil.example/cb").returncode == 2
    assert clients(tmp_path, "add", "spa", "--redirect-uri", "https://spa.example/cb#x").returncode == 2
    assert clients(tmp_path, "add", "johndoe", "--type", "confidential").returncode == 2
    assert clients(tmp_path, "add", "m2m", "--type", "confidential").returncode == 2
    added = clients(tmp_path, "add", "svc", "--type", "confidential")
    assert added.returncode == 0 and "client_secret: " in added.stdout
    assert "client_secret:  (not kept" in clients(tmp_path, "show", "svc").stdout
    assert clients(tmp_path, "remove", "svc").returncode == 0
    assert clients(tmp_path, "show", "svc").returncode == 2


async def test_added_confidential_client_can_get_tokens(aiohttp_client, tmp_path):
    """A client added by the CLI is used by the running proxy (the store is the registry)."""
    added = clients(tmp_path, "add", "svc", "--type", "confidential", "--scopes", "me")
    secret = added.stdout.split("client_secret: ")[1].split()[0]
    proxy = await aiohttp_client(create_app(proxy_settings(tmp_path)))
    resp = await proxy.post("/token", data={"grant_type": "client_credentials"}, headers=basic("svc", secret))
    assert resp.status == 200 and (await resp.json())["scope"] == "me"


async def test_frontend_and_resource_urls_extend_redirects_and_default_audience(aiohttp_client, tmp_path):
    """--frontend-url adds URL/callback to frontend (and the origin to CORS); --resource-url adds the Swagger UI
    redirect to backend4-docs and becomes the default audience."""
    settings = replace(proxy_settings(tmp_path), frontend_urls=("http://127.0.0.1:5555",),
                       resource_urls=("http://127.0.0.1:6666",))
    proxy = await aiohttp_client(create_app(settings))
    resp = await proxy.get("/authorize", params=authorize_params(redirect_uri="http://127.0.0.1:5555/callback",
                                                                  state="s"), allow_redirects=False)
    assert resp.status == 302 and "/login?request=" in resp.headers["Location"]
    docs = await proxy.get("/authorize", params=authorize_params(
        client_id="backend4-docs", redirect_uri="http://127.0.0.1:6666/docs/oauth2-redirect.html",
        resource="http://127.0.0.1:6666"), allow_redirects=False)
    assert docs.status == 302 and "/login?request=" in docs.headers["Location"]
    cors = await proxy.options("/token", headers={"Origin": "http://127.0.0.1:5555",
                                                  "Access-Control-Request-Method": "POST"})
    assert cors.headers["Access-Control-Allow-Origin"] == "http://127.0.0.1:5555"
    secret = (tmp_path / "keys" / "client-secret-m2m").read_text().strip()
    tok = await proxy.post("/token", data={"grant_type": "client_credentials"}, headers=basic("m2m", secret))
    import jwt
    assert jwt.decode((await tok.json())["access_token"], options={"verify_signature": False})["aud"] == \
        "http://127.0.0.1:6666"
    bad = await proxy.get("/authorize", params=authorize_params(redirect_uri="http://127.0.0.1:5556/callback"),
                          allow_redirects=False)
    assert bad.status == 400 and "Location" not in bad.headers


async def test_client_credentials_refused_when_a_user_has_the_client_id(aiohttp_client, tmp_path):
    """RFC 9700 §4.15.1 / RFC 9068 §2.2: a client_credentials token's sub is the client_id; if a user of that
    name appears later (`users add m2m`), the proxy stops issuing such tokens instead of minting user-like subs."""
    proxy = await aiohttp_client(create_app(proxy_settings(tmp_path)))
    added = subprocess.run([sys.executable, str(ROOT / "run.py"), "users", "add", "m2m", "--password-stdin",
                            "--data-dir", str(tmp_path / "data")], input="pw-of-m2m\n", capture_output=True,
                           text=True, cwd=ROOT, timeout=60)
    assert added.returncode == 0, added.stderr
    secret = (tmp_path / "keys" / "client-secret-m2m").read_text().strip()
    resp = await proxy.post("/token", data={"grant_type": "client_credentials"}, headers=basic("m2m", secret))
    assert resp.status == 400 and (await resp.json())["error"] == "unauthorized_client"
