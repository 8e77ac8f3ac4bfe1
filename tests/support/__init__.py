"""Code shared by the test modules (no tests here): settings and live servers, JOSE bits, a local
RS256 issuer, an in-process oauth-proxy and its browser-like driver, headless Chromium, OpenAPI route lists.

Test modules import from here, never from one another."""
