"""The seed's journey in a real browser: open /docs on backend3, click Authorize, log in as johndoe/secret
with the scopes ticked, execute GET /users/me, see 200 with johndoe. Headless Debian Chromium driven by
Playwright. In CI (OAUTHLAB_REQUIRE_BROWSER=1) a missing browser fails instead of skipping."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from .conftest import live_server

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]


def chromium_or_skip():
    if CHROMIUM.exists():
        try:
            import playwright  # noqa: F401
            return
        except ImportError:
            reason = "the playwright Python package is not installed"
    else:
        reason = f"{CHROMIUM} not found (apt-get install chromium)"
    if os.environ.get("OAUTHLAB_REQUIRE_BROWSER") == "1":
        pytest.fail(f"browser required (OAUTHLAB_REQUIRE_BROWSER=1) but {reason}")
    pytest.skip(reason)


@pytest.mark.browser
def test_swagger_ui_password_authorize_then_users_me_in_chromium(tmp_path):
    chromium_or_skip()
    from playwright.sync_api import expect, sync_playwright

    with live_server("backend3", tmp_path) as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        try:
            page = browser.new_page()
            page.goto(base + "/docs")
            page.get_by_role("button", name="Authorize").first.click()
            dialog = page.locator(".dialog-ux")
            dialog.locator("input#oauth_username").fill("johndoe")
            dialog.locator("input#oauth_password").fill("secret")
            for scope in ("me", "items"):
                dialog.locator(f"input[id$='-{scope}-checkbox-OAuth2'], input[data-value='{scope}']").first.check()
            dialog.get_by_role("button", name="Authorize").click()
            expect(dialog.get_by_role("button", name="Logout")).to_be_visible(timeout=10_000)
            dialog.get_by_role("button", name="Close").first.click()

            op = page.locator("#operations-default-get_users_me")
            op.locator(".opblock-summary").click()
            op.get_by_role("button", name="Try it out").click()
            op.get_by_role("button", name="Execute").click()
            status = op.locator(".live-responses-table .response .response-col_status").first
            expect(status).to_have_text("200", timeout=10_000)
            body = op.locator(".live-responses-table .response-col_description pre").first.inner_text()
            assert '"username": "johndoe"' in body
            page.screenshot(path=str(tmp_path / "backend3-docs.png"), full_page=True)
        finally:
            browser.close()
