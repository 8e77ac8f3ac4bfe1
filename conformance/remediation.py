"""Why a finding matters and how to fix it, per scenario id or family, as data for the reports.

``REMEDIATION`` maps every catalog scenario id to ``{"impact": one sentence on what an attacker gains,
"remediation": what to change, "hints": ["Library: the concrete setting", ...]}``. An id-specific entry
wins over its family's. The CLI hands this mapping to the reporters (the engine never imports the catalog).

The hints name the settings of the libraries teams most often verify tokens or run authorization servers
with: PyJWT, python-jose, Authlib, jose (panva, Node), express-jwt and Auth0's express-oauth2-jwt-bearer,
Spring Security / Spring Authorization Server, and node oidc-provider.
"""
from __future__ import annotations

from . import CATALOG

ALG_HINTS = [
    'PyJWT: jwt.decode(token, key, algorithms=["RS256"], audience=..., issuer=...) with a fixed list, never '
    'the header\'s alg; give it a key object of the expected type',
    'python-jose: jwt.decode(token, key, algorithms=["RS256"]) with a fixed list',
    'jose (Node): jwtVerify(token, key, { algorithms: ["RS256"] })',
    'express-jwt: expressjwt({ secret, algorithms: ["RS256"] }); Auth0 express-oauth2-jwt-bearer: '
    'auth({ issuerBaseURL, audience, tokenSigningAlg: "RS256" })',
    "Spring Security: NimbusJwtDecoder.withJwkSetUri(uri).jwsAlgorithm(SignatureAlgorithm.RS256).build()",
    'Authlib: JsonWebToken(["RS256"]).decode(token, key)',
]
KEY_HINTS = [
    "PyJWT: PyJWKClient(jwks_url).get_signing_key_from_jwt(token) resolves kid against your JWKS only",
    "jose (Node): jwtVerify(token, createRemoteJWKSet(new URL(jwksUri)), { algorithms: [...] }); never "
    "importJWK(header.jwk)",
    "Spring Security: NimbusJwtDecoder.withJwkSetUri(uri) (jku/x5u/jwk headers are not used as key sources)",
    "Own key lookup: kid is a lookup key into a fixed map, never a file path, SQL fragment or shell argument",
]
TIME_HINTS = [
    'PyJWT: options={"require": ["exp", "iat", "iss", "aud", "sub"]}, leeway=30 (PyJWT verifies only the '
    "claims present unless required)",
    'jose (Node): jwtVerify(token, key, { requiredClaims: ["exp", "iat"], clockTolerance: "30s" })',
    "Spring Security: JwtTimestampValidator(Duration.ofSeconds(30)) (part of JwtValidators.createDefault())",
    "Authlib: claims.validate(leeway=30) with claims_options={'exp': {'essential': True}}",
]
AUD_HINTS = [
    'PyJWT: jwt.decode(..., audience="https://api.example.com") with "aud" in options["require"]',
    'jose (Node): jwtVerify(token, key, { audience: "https://api.example.com" })',
    "Auth0 express-oauth2-jwt-bearer: auth({ audience: ... })",
    "Spring Security: spring.security.oauth2.resourceserver.jwt.audiences, or a JwtClaimValidator on aud",
]
ISS_HINTS = [
    'PyJWT: jwt.decode(..., issuer="https://as.example.com") with "iss" required',
    'jose (Node): jwtVerify(token, key, { issuer: "https://as.example.com" })',
    "Spring Security: JwtValidators.createDefaultWithIssuer(issuer)",
]
SCOPE_HINTS = [
    'Auth0 express-oauth2-jwt-bearer: requiredScopes("items") on the route',
    'Spring Security: .requestMatchers("/items/**").hasAuthority("SCOPE_items")',
    'Authlib: @require_oauth("items") with a ResourceProtector',
    "Compare whole space-separated scope values (RFC 6749 §3.3), never substrings",
]
PKCE_HINTS = [
    "node oidc-provider: pkce: { required: () => true } (S256 only is the default in current versions)",
    "Authlib: server.register_grant(AuthorizationCodeGrant, [CodeChallenge(required=True)]); drop 'plain' "
    "from CodeChallenge.SUPPORTED_CODE_CHALLENGE_METHOD",
    "Spring Authorization Server: ClientSettings.builder().requireProofKey(true)",
]
REDIRECT_HINTS = [
    "node oidc-provider and Spring Authorization Server compare redirect_uri exactly by default: do not "
    "override it with a prefix or pattern match",
    "Authlib: keep ClientMixin.check_redirect_uri an exact string comparison against the registered list",
]
TOKEN_HINTS = [
    "Consume the authorization code atomically (DELETE ... RETURNING, Redis GETDEL) and revoke what it issued "
    "when it is replayed",
    "Authlib: delete the code in AuthorizationCodeGrant.delete_authorization_code before issuing tokens",
    "node oidc-provider: an adapter whose consume() is atomic",
]
REFRESH_HINTS = [
    "node oidc-provider: rotateRefreshToken: true (the default for public clients)",
    "Spring Authorization Server: TokenSettings.builder().reuseRefreshTokens(false)",
    "Authlib: revoke the old refresh token in RefreshTokenGrant.revoke_old_credential",
]


def _a(impact: str, remediation: str, hints: list[str] | None = None) -> dict:
    return {"impact": impact, "remediation": remediation, "hints": list(hints or [])}


BY_FAMILY: dict[str, dict] = {
    "sig": _a("An attacker can forge tokens the resource server accepts, and so act as any user.",
              "Verify every token's signature with the trusted key under a fixed allow-list of algorithms "
              "(RFC 8725 §3.1); never take the algorithm or key type from the token header.", ALG_HINTS),
    "key": _a("An attacker can make the server verify a token with a key the attacker controls, and so mint "
              "any token.", "Select keys only from your own configured key set (RFC 8725 §3.10); ignore jku, "
              "x5u, jwk and x5c headers and treat kid as an opaque lookup key.", KEY_HINTS),
    "time": _a("Stolen or expired tokens keep working past their lifetime.",
               "Require and verify exp (and nbf, iat) with a small clock-skew leeway (RFC 7519 §4.1.4).",
               TIME_HINTS),
    "claims": _a("Tokens with missing, duplicated or wrongly typed claims are authorised on values the issuer "
                 "never signed off.", "Require the claims your policy depends on, check their JSON types, and "
                 "reject duplicate members (RFC 7519 §4, RFC 8725 §3.9).", TIME_HINTS[:1] + AUD_HINTS[:1]),
    "aud": _a("A token issued for another service is accepted here (token replay across services).",
              "Require aud and compare it exactly with this resource's identifier (RFC 9068 §4, RFC 7519 "
              "§4.1.3).", AUD_HINTS),
    "iss": _a("Tokens from another issuer, or signed by a key of another tenant, are accepted.",
              "Require iss and compare it exactly with the one trusted issuer (RFC 9068 §4).", ISS_HINTS),
    "typ": _a("An ID Token or another kind of JWT from the same issuer is accepted as an access token.",
              'Require typ "at+jwt" (RFC 9068 §4, RFC 8725 §3.11).',
              ['jose (Node): jwtVerify(token, key, { typ: "at+jwt" })',
               "Spring Security: jwtProcessorCustomizer(p -> p.setJWSTypeVerifier(new DefaultJOSEObjectType"
               'Verifier<>(new JOSEObjectType("at+jwt"))))',
               'PyJWT: after decoding, check jwt.get_unverified_header(token)["typ"].lower() == "at+jwt"']),
    "scope": _a("A token without the needed scope reaches data or actions it was not granted.",
                "Check the route's required scope on every request and answer 403 insufficient_scope "
                "(RFC 6750 §3.1).", SCOPE_HINTS),
    "fmt": _a("Malformed tokens reach the parser's edge cases: a crash, a 5xx or an accepted variant of a "
              "token.", "Refuse anything that is not three base64url segments of JSON objects before "
              "verification, with 401 invalid_token (RFC 7515 §7.1, RFC 6750 §3.1).", ALG_HINTS[:1]),
    "bearer": _a("Clients and proxies cannot tell why a request was refused, or tokens travel where they leak "
                 "(query strings, cookies, plain HTTP).", "Answer with the RFC 6750 §3 challenge "
                 "(WWW-Authenticate: Bearer, error codes, 400/401/403) and accept tokens only in the "
                 "Authorization header over TLS.",
                 ["Spring Security: BearerTokenAuthenticationEntryPoint (the default); keep "
                  "allowUriQueryParameter(false)",
                  "Auth0 express-oauth2-jwt-bearer: sends the RFC 6750 challenge; do not catch its errors "
                  "into a bare 401"]),
    "hyg": _a("Errors and side channels tell an attacker about the verifier, or make the server fetch "
              "attacker URLs (SSRF).", "Answer errors with a generic description, never fetch URLs found in "
              "tokens or headers, and bound the time spent on any input (RFC 8725 §3).", KEY_HINTS[-1:]),
    "pkce": _a("An attacker who intercepts an authorization code can redeem it (code interception).",
               "Require PKCE with S256 for every public client and check code_verifier against the stored "
               "challenge (RFC 7636 §4.6, RFC 9700 §2.1.1).", PKCE_HINTS),
    "redirect": _a("An attacker can have authorization codes or tokens sent to a URL they control.",
                   "Compare redirect_uri with the registered value by exact string match (RFC 9700 §4.1.3, "
                   "RFC 6749 §3.1.2.3); show an error page, never redirect, for an unregistered one.",
                   REDIRECT_HINTS),
    "token": _a("Authorization codes or client credentials can be replayed or used by the wrong client.",
                "Bind codes to their client and redirect_uri, consume them once, authenticate confidential "
                "clients (RFC 6749 §4.1.3, §5.2).", TOKEN_HINTS),
    "refresh": _a("A stolen refresh token keeps minting access tokens.",
                  "Bind refresh tokens to their client, rotate them for public clients and revoke the family "
                  "when a rotated one is replayed (RFC 9700 §4.14.2).", REFRESH_HINTS),
    "hygiene_as": _a("Credentials are cached, framed or readable by other origins.",
                     "Send Cache-Control: no-store on token responses (RFC 6749 §5.1), forbid framing of "
                     "login and consent pages (X-Frame-Options: DENY or CSP frame-ancestors 'none') and use "
                     "TLS (RFC 9700 §4.16).", []),
}

BY_ID: dict[str, dict] = {
    "sig-alg-none": _a("Anyone can mint any token: an unsigned token with alg none is accepted.",
                       "Never accept alg none: verify with a fixed allow-list of signing algorithms "
                       "(RFC 8725 §3.1, RFC 7518 §3.6).", ALG_HINTS),
    "sig-confusion-spki-pem": _a("An attacker who knows the public key can mint any token (HS256 keyed with "
                                 "the RSA public key).", "Bind each key to its algorithm: an RSA/EC key must "
                                 "never be used as an HMAC secret (RFC 8725 §3.1, CVE-2022-29217).", ALG_HINTS),
    "sig-hs-weak-key": _a("An attacker can brute-force the HMAC secret offline from one token and then mint "
                          "any token.", "Use a random HMAC key of at least 256 bits (RFC 7518 §3.2) and rotate "
                          "the current one.", ["Generate it with secrets.token_bytes(32) or "
                                               "openssl rand -base64 32"]),
    "key-kid-traversal": _a("An attacker who points kid at a predictable file (/dev/null) can mint any token.",
                            "Treat kid as a lookup key into your own key set, never as a path "
                            "(RFC 8725 §3.10).", KEY_HINTS),
    "key-jku-spoof": _a("An attacker can host their own JWKS and mint any token.",
                        "Ignore jku; load keys only from the configured JWKS URL (RFC 8725 §3.10).", KEY_HINTS),
    "time-exp-past": _a("Expired (and possibly stolen) tokens stay valid forever.",
                        "Verify exp on every token (RFC 7519 §4.1.4).", TIME_HINTS),
    "aud-mismatch": _a("A token issued for another service is accepted here.",
                       "Verify aud against this resource's identifier (RFC 9068 §4).", AUD_HINTS),
    "scope-insufficient": _a("A token without the needed scope reaches the protected route.",
                             "Check the required scope per route; answer 403 insufficient_scope naming it "
                             "(RFC 6750 §3.1).", SCOPE_HINTS),
    "redir-unregistered": _a("An attacker can have codes sent to any URL (full account takeover).",
                             "Exact-match redirect_uri against the registered list (RFC 6749 §3.1.2.4, RFC 9700 "
                             "§4.1.3).", REDIRECT_HINTS),
    "tok-code-reuse": _a("A leaked or intercepted authorization code can be redeemed again.",
                         "Consume codes once, atomically, and revoke the tokens of a replayed code (RFC 6749 "
                         "§4.1.2).", TOKEN_HINTS),
}
# For a scenario neither table names (a family added later).
FALLBACK = _a("The target does not enforce this rule.", "Follow the RFC sentence quoted with this finding.")


def advice(scenario_id: str, family: str) -> dict:
    """The impact, remediation and hints for one scenario (id first, then family, then a generic line)."""
    return BY_ID.get(scenario_id) or BY_FAMILY.get(family) or FALLBACK


REMEDIATION: dict[str, dict] = {s.id: advice(s.id, s.family) for s in CATALOG}
