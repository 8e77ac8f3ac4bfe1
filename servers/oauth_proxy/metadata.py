"""Discovery and keys: RFC 8414 authorization server metadata (served at both
``/.well-known/oauth-authorization-server`` and ``/.well-known/openid-configuration``, same document)
and the JWK Set (RFC 7517) at ``/.well-known/jwks.json``.

- RFC 9700 §2.1.1: ``code_challenge_methods_supported`` lets clients detect PKCE support: ``["S256"]``.
- RFC 9207: ``authorization_response_iss_parameter_supported`` (the ``iss`` parameter is returned).
- The proxy issues OAuth access tokens only (no ID tokens), so no ``id_token_*`` members are advertised.
"""
from __future__ import annotations

from aiohttp import web

from .clients import ALL_GRANTS, SCOPES
from .context import PROXY

routes = web.RouteTableDef()


def metadata(request: web.Request) -> dict:
    p = request.app[PROXY]
    return {
        "issuer": p.issuer,
        "authorization_endpoint": p.url("/authorize"),
        "token_endpoint": p.url("/token"),
        "jwks_uri": p.url("/.well-known/jwks.json"),
        "revocation_endpoint": p.url("/revoke"),
        "introspection_endpoint": p.url("/introspect"),
        "revocation_list_endpoint": p.url("/revocations"),
        "scopes_supported": list(SCOPES),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": list(ALL_GRANTS),
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "authorization_response_iss_parameter_supported": True,
        "subject_types_supported": ["public"],
        "access_token_signing_alg_values_supported": ["RS256"],
    }


@routes.get("/.well-known/oauth-authorization-server")
@routes.get("/.well-known/openid-configuration")
async def discovery(request: web.Request) -> web.Response:
    return web.json_response(metadata(request), headers={"Cache-Control": "public, max-age=300"})


@routes.get("/.well-known/jwks.json")
async def jwks(request: web.Request) -> web.Response:
    keys = request.app[PROXY].keyring.refresh()
    return web.json_response(keys.jwks(), headers={"Cache-Control": "public, max-age=300"})
