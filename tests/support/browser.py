"""Real headless Chromium for the browser journeys, through Playwright (sync API, in sync tests).

Use in a test module::

    from tests.support.browser import browser, page  # noqa: F401  (pytest fixtures)

    @pytest.mark.browser
    def test_something(page): ...

Without /usr/bin/chromium (or the playwright package) the tests skip, unless OAUTHLAB_REQUIRE_BROWSER=1,
in which case they fail: CI must not go green by skipping the journeys.

``page`` records console errors, CSP violations and HTTP answers >= 400 in ``page.problems`` (a list of
strings), so a test can assert that a strict-CSP page really runs without a single violation or failure.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
TIMEOUT_MS = 15_000


def require_browser() -> None:
    """Skip (or fail under OAUTHLAB_REQUIRE_BROWSER=1) when Chromium or Playwright is missing."""
    reason = None
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} not found (apt-get install chromium)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            reason = "the playwright Python package is not installed"
    if reason is None:
        return
    if os.environ.get("OAUTHLAB_REQUIRE_BROWSER") == "1":
        pytest.fail(f"browser required (OAUTHLAB_REQUIRE_BROWSER=1) but {reason}")
    pytest.skip(reason)


def launch(pw):
    """Launch the system Chromium headless with the flags that make it quiet and container-safe."""
    return pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)


@pytest.fixture
def browser():
    """A headless Chromium (closed after the test)."""
    require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = launch(pw)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser, tmp_path):
    """A fresh page in its own context; console errors and CSP violations go to ``page.problems``; a
    screenshot is saved to the test's tmp_path on teardown (handy when a journey fails)."""
    context = browser.new_context()
    context.set_default_timeout(TIMEOUT_MS)
    p = context.new_page()
    problems: list[str] = []
    p.on("console", lambda msg: problems.append(f"console {msg.type}: {msg.text}")
         if msg.type == "error" or "Content Security Policy" in msg.text else None)
    p.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    p.on("response", lambda r: problems.append(f"HTTP {r.status} {r.request.method} {r.url}")
         if r.status >= 400 else None)
    p.problems = problems  # type: ignore[attr-defined]
    try:
        yield p
    finally:
        try:
            p.screenshot(path=str(tmp_path / "last-page.png"), full_page=True)
        except Exception:  # noqa: BLE001 - a failed screenshot must not hide the test's own failure
            pass
        context.close()


def swagger_try_get(page, operation_id: str) -> tuple[str, str]:
    """In Swagger UI: open an operation, "Try it out", "Execute"; returns (status text, response body)."""
    from playwright.sync_api import expect

    op = page.locator(f"#operations-default-{operation_id}")
    op.locator(".opblock-summary").click()
    op.get_by_role("button", name="Try it out").click()
    op.get_by_role("button", name="Execute").click()
    status = op.locator(".live-responses-table .response .response-col_status").first
    expect(status).not_to_have_text("")
    expect(op.locator(".live-responses-table .response-col_description pre").first).to_be_visible()
    return status.inner_text().strip(), op.locator(".live-responses-table .response-col_description pre").first.inner_text()
