"""pytest set-up: a fast bcrypt cost for every server the tests start, and the shared fixtures (``proxy``: an
in-process oauth-proxy; ``issuer``: a local RS256 issuer; ``browser``/``page``: headless Chromium). The
shared code lives in tests/support/ (re-exported here for the modules that import them from conftest)."""
from __future__ import annotations

import os

import pytest

from tests.support.settings import (FAST_BCRYPT, ROOT, free_port, live_server, make_settings,  # noqa: F401
                                    serve, wait_http)

from tests.support.browser import browser, page  # noqa: F401 - fixtures
from tests.support.issuer import issuer  # noqa: F401 - fixture
from tests.support.proxy import proxy  # noqa: F401 - fixture

os.environ.setdefault("OAUTHLAB_BCRYPT_ROUNDS", str(FAST_BCRYPT))


@pytest.fixture
def settings_factory(tmp_path):
    return lambda name="backend", **kw: make_settings(tmp_path, name, **kw)
