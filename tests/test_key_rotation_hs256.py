"""HS256 secret rotation without downtime: `keys rotate` makes a new signer while the old
secret keeps verifying until `keys prune`; a running server picks both up without a restart."""
from __future__ import annotations

import json
import time

import jwt

from servers import backend3
from servers.common import keys

from .conftest import make_settings


async def _token(client):
    r = await client.post("/token", data={"grant_type": "password", "username": "johndoe",
                                          "password": "secret", "scope": "me"})
    assert r.status == 200
    return (await r.json())["access_token"]


async def test_rotation_keeps_old_tokens_valid_until_prune_without_restart(aiohttp_client, tmp_path):
    client = await aiohttp_client(backend3.create_app(make_settings(tmp_path, "backend3")))
    old = await _token(client)
    old_kid = jwt.get_unverified_header(old)["kid"]

    new_entry = keys.rotate_secret(tmp_path / "keys")
    new = await _token(client)  # the running server signs with the new secret
    assert jwt.get_unverified_header(new)["kid"] == new_entry["kid"] != old_kid
    for token in (old, new):
        r = await client.get("/users/me", headers={"Authorization": f"Bearer {token}"})
        assert r.status == 200

    # Prune once the old secret has been retired longer than the token lifetime (simulated by age 0).
    time.sleep(0.01)
    assert keys.prune_secrets(tmp_path / "keys", max_token_age=0) == [old_kid]
    data = json.loads((tmp_path / "keys" / "secrets.json").read_text())
    assert [e["kid"] for e in data["hs256"]] == [new_entry["kid"]]
    # Pruning only happens after every token of the old key has expired, so the running server's
    # verified-token cache holds none of them; a fresh server shows the old key is gone.
    again = await aiohttp_client(backend3.create_app(make_settings(tmp_path, "backend3")))
    r = await again.get("/users/me", headers={"Authorization": f"Bearer {old}"})
    assert r.status == 401 and r.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'
    assert (await again.get("/users/me", headers={"Authorization": f"Bearer {new}"})).status == 200
