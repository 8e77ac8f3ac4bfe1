"""The (METHOD, path) pairs a server routes and those its OpenAPI document describes."""
from __future__ import annotations

DOCS_ROUTES = {"/openapi.json", "/docs", "/docs/", "/docs/init.js", "/docs/oauth2-redirect.html"}
METHODS = {"get", "post", "put", "delete", "patch", "options", "head", "trace"}


def routed_operations(app) -> set[tuple[str, str]]:
    """(METHOD, path) of every route the proxy registers, without HEAD (aiohttp adds it to each GET), the
    trailing-slash twins (add_routes) and the docs machinery itself."""
    out = set()
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        path = info.get("path") or info.get("formatter") or info.get("prefix")
        if route.method == "HEAD" or path in DOCS_ROUTES or path.startswith("/docs/static"):
            continue
        if path != "/" and path.endswith("/"):
            continue
        out.add((route.method, path))
    return out


def documented_operations(document: dict) -> set[tuple[str, str]]:
    return {(m.upper(), path) for path, item in document["paths"].items() for m in item if m in METHODS}
