"""The tutorial journey in a real browser: open /docs on backend3, click Authorize, log in as johndoe/secret
with the scopes ticked, execute GET /users/me, see 200 with johndoe. Headless Debian Chromium driven by
Playwright (tests/support/browser.py). In CI (OAUTHLAB_REQUIRE_BROWSER=1) a missing browser fails instead of
skipping."""
from __future__ import annotations

import json

import pytest

from tests.support.browser import swagger_try_get
from .conftest import live_server


@pytest.mark.browser
def test_swagger_ui_password_authorize_then_users_me_in_chromium(page, tmp_path):  # noqa: F811
    from playwright.sync_api import expect

    with live_server("backend3", tmp_path) as base:
        page.goto(base + "/docs")
        page.get_by_role("button", name="Authorize").first.click()
        dialog = page.locator(".dialog-ux")
        dialog.locator("input#oauth_username").fill("johndoe")
        dialog.locator("input#oauth_password").fill("secret")
        for scope in ("me", "items"):
            dialog.locator(f"input[id$='-{scope}-checkbox-OAuth2'], input[data-value='{scope}']").first.check()
        dialog.get_by_role("button", name="Authorize").click()
        expect(dialog.get_by_role("button", name="Logout")).to_be_visible()
        dialog.get_by_role("button", name="Close").first.click()

        status, body = swagger_try_get(page, "get_users_me")
        assert status == "200"
        assert json.loads(body) == {"username": "johndoe", "full_name": "John Doe",
                                    "email": "johndoe@example.com", "disabled": False}
        status, body = swagger_try_get(page, "get_users_me_items")
        assert status == "200" and json.loads(body)[0]["owner"] == "johndoe"
