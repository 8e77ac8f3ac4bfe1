"""backend4's OpenAPI document: its routes, and an OAuth2 scheme whose Authorize button runs Authorization
Code + PKCE (RFC 7636) at the issuer as the public client ``backend4-docs``."""
from __future__ import annotations

from servers.common import docs
from servers.common.settings import Settings

from .routes import ROUTES

DEFAULT_ISSUER = "http://127.0.0.1:9001"
SCOPES = {"me": "Read what the token says about you", "items": "Read your items"}


def upstream_issuer(settings: Settings) -> str:
    return settings.upstream_issuer or DEFAULT_ISSUER


def openapi(settings: Settings) -> dict:
    issuer = upstream_issuer(settings)
    paths: dict = {"/health": docs.public_get("Liveness check (no auth)", docs.STATUS_SCHEMA)}
    for path, (summary, handler, schema) in ROUTES.items():
        paths[path] = docs.protected_get(summary, schema, handler.required_scopes, "OAuth2")
    scheme = {"type": "oauth2", "description": f"Authorization Code + PKCE (S256) at {issuer}",
              "flows": {"authorizationCode": {"authorizationUrl": issuer.rstrip("/") + "/authorize",
                                              "tokenUrl": issuer.rstrip("/") + "/token", "scopes": SCOPES}}}
    return docs.openapi_document(
        "oauthlab backend4 (resource server for RS256 tokens)",
        f"Tokens from {issuer} (RS256, typ at+jwt, aud {settings.token_audience}). Authorize runs "
        "Authorization Code + PKCE as the public client backend4-docs: log in as johndoe / secret.",
        paths, {"OAuth2": scheme})


def use_discovered_endpoints(document: dict, metadata: dict) -> None:
    """Point the docs' OAuth2 flow at the endpoints the issuer's metadata names."""
    flow = document["components"]["securitySchemes"]["OAuth2"]["flows"]["authorizationCode"]
    for ours, theirs in (("authorizationUrl", "authorization_endpoint"), ("tokenUrl", "token_endpoint")):
        if isinstance(metadata.get(theirs), str):
            flow[ours] = metadata[theirs]
