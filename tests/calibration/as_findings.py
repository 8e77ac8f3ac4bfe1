"""What the authorization-server catalog finds on real third-party servers, judged by hand against the RFC.

For each calibration target (the ``name`` of its profile): scenario id -> (verdict, the RFC sentence that makes
the finding real, what the server does). ``tests/test_calibration_as.py`` fails on any finding that is not
here, on any here that is not found, and on any ``error``. docs/calibration.md is the same table for readers.
"""
from __future__ import annotations

JUDGED: dict[str, dict[str, tuple[str, str, str]]] = {
    "node-oidc-provider": {
        "tok-redirect-omitted": (
            "deviation",
            'RFC 6749 §4.1.3: the authorization server MUST "ensure that the "redirect_uri" parameter is present if '
            'the "redirect_uri" parameter was included in the initial authorization request"',
            "a token request without redirect_uri is accepted: oidc-provider fills in the client's only registered "
            "URI (allowOmittingSingleRegisteredRedirectUri, on by default). No attack: the code can only have "
            "gone to that URI."),
        "tok-cc-public-client": (
            "deviation",
            'RFC 6749 §5.2: "unauthorized_client: The authenticated client is not authorized to use this '
            'authorization grant type."',
            "a public client asking for client_credentials is refused, nothing issued, but with invalid_request "
            "instead of unauthorized_client (or invalid_client)."),
    },
    "authlib-as": {
        "pkce-required-public": (
            "deviation",
            'RFC 7636 §4.4.1: "If the server requires Proof Key for Code Exchange (PKCE) by OAuth public clients '
            'and the client does not send the "code_challenge" in the request, the authorization endpoint MUST '
            'return the authorization error response with the "error" value set to "invalid_request"."',
            "CodeChallenge(required=True) enforces PKCE at the token endpoint only: a public client's request "
            "without code_challenge gets a code, which is then refused without a verifier."),
        "pkce-plain-rejected": (
            "deviation",
            'RFC 9700 §2.1.1: "Clients SHOULD use PKCE code challenge methods that do not expose the PKCE verifier '
            'in the authorization request" (informational: the rule is on the client)',
            "code_challenge_method=plain is accepted (Authlib supports plain and S256)."),
        "tok-code-reuse-revokes": (
            "deviation",
            'RFC 6749 §4.1.2: the authorization server "SHOULD revoke (when possible) all tokens previously issued '
            'based on that authorization code."',
            "a replayed code is refused, but the tokens of its first redemption keep working (the documented "
            "models have no link from tokens to the code)."),
        "tok-duplicate-param": (
            "deviation",
            'RFC 6749 §3.2: "Request and response parameters MUST NOT be included more than once."; §5.2: '
            '"invalid_request: The request ... includes a parameter more than once" (informational: the MUST NOT '
            "binds the client)",
            "a token request with code or grant_type twice (same value) is served."),
        "rt-scope-narrowing": (
            "deviation",
            'RFC 6749 §6: "If a new refresh token is issued, the refresh token scope MUST be identical to that of '
            'the refresh token included by the client in the request."',
            "after a refresh that narrows the scope, the new refresh token carries the narrowed scope: the next "
            "refresh without scope only gets the narrow one (RefreshTokenGrant issues the new refresh token with "
            "the requested scope, and save_token stores it as in the documentation)."),
        "rt-rotation-reuse": (
            "fail",
            'RFC 9700 §2.2.2: "Refresh tokens for public clients MUST be sender-constrained or use refresh token '
            'rotation as described in Section 4.14."; §4.14.2: on the use of an invalidated refresh token the '
            'authorization server "will revoke the active refresh token"',
            "refresh tokens are rotated (INCLUDE_NEW_REFRESH_TOKEN) and the old one refused, but its replay does "
            "not revoke the successor: a thief who refreshes first keeps a working refresh token."),
    },
}
