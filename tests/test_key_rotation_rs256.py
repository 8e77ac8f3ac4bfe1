"""RS256 key rotation without downtime, for real: oauth-proxy and backend4 running,
`run.py keys rotate` on the proxy's keys. The new key is published at once and signs only after
--activate-after seconds (longer than backend4's JWKS refetch interval), so backend4 picks it up through
its kid-miss refetch: no restart, and not one request fails during the change; the old key's tokens keep
working until `keys prune`."""
from __future__ import annotations

import json
import subprocess
import sys
import time

import jwt

from tests.support.issuer import client_credentials, get
from tests.support.settings import ROOT, free_port, live_server


def keys_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "run.py"), "keys", *args], capture_output=True, text=True,
                          timeout=60, cwd=ROOT)


def test_rotation_is_picked_up_by_backend4_without_a_failed_request(tmp_path):
    b4_port = free_port()
    b4_url = f"http://127.0.0.1:{b4_port}"
    keys_dir = tmp_path / "keys"
    with live_server("oauth-proxy", tmp_path, "--resource-url", b4_url) as proxy, \
            live_server("backend4", tmp_path, "--upstream-issuer", proxy, "--jwks-refetch-interval", "1",
                        port=b4_port) as api:
        old = client_credentials(proxy, keys_dir, "me")["access_token"]
        old_kid = jwt.get_unverified_header(old)["kid"]
        assert get(api + "/users/me", old)[0] == 200  # backend4 has fetched the JWKS (old key only)

        rotated = keys_cli("rotate", "--keys-dir", str(keys_dir), "--activate-after", "3")
        assert rotated.returncode == 0, rotated.stderr
        new_kid = json.loads((keys_dir / "oauth-proxy-jwks.json").read_text())["signing"]
        assert new_kid != old_kid

        seen, statuses = set(), []
        deadline = time.monotonic() + 12
        while time.monotonic() < deadline and new_kid not in seen:
            token = client_credentials(proxy, keys_dir, "me")["access_token"]
            seen.add(jwt.get_unverified_header(token)["kid"])
            statuses.append(get(api + "/users/me", token)[0])
            time.sleep(0.2)
        assert new_kid in seen, "the proxy never started signing with the rotated key"
        assert set(statuses) == {200}, statuses  # not one failed request across the change
        status, _, _ = get(api + "/users/me", old)
        assert status == 200  # the old key is still published: its tokens keep working

        # Prune: the old key leaves the JWKS (its tokens would all have expired by then in real life).
        time.sleep(0.1)
        pruned = keys_cli("prune", "--keys-dir", str(keys_dir), "--max-token-age", "0")
        assert pruned.returncode == 0 and old_kid in pruned.stdout, pruned.stdout
