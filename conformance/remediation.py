"""Why a finding matters and how to fix it, per scenario id or family, as data for the reports.

``REMEDIATION`` maps every catalog scenario id to ``{"impact": one sentence on what an attacker gains,
"remediation": what to change, "hints": ["Library: the concrete setting", ...], "deviation": {the same three
for a finding that is a deviation: the attack refused, but not as the RFC says}}``. An id-specific entry
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
# One sentence on what an attacker gains, per scenario; the family's remediation and hints apply.
IMPACTS: dict[str, str] = {
    "sig-valid-rs256-control": "Valid tokens are refused, so no other result about this API can be trusted.",
    "sig-valid-hs256-control": "Valid tokens are refused, so no other result about this API can be trusted.",
    "sig-alg-none-case": "Anyone can mint any token by spelling alg none in another case (a case-sensitive "
                         "block-list).",
    "sig-alg-none-keep-sig": "Anyone can mint any token: alg none is honoured even with a signature attached.",
    "sig-null-signature": "Anyone can mint any token: a token without its signature is accepted.",
    "sig-truncated-signature": "Signatures are compared loosely: forged tokens can pass with a partial match.",
    "sig-payload-tamper": "Anyone holding one token can rewrite its claims (sub, scope, exp) and keep using it.",
    "sig-hs-empty-key": "Anyone can mint any token with an HMAC under the empty key.",
    "sig-confusion-pem-variants": "An attacker who knows the public key can mint any token (HS256 keyed with a "
                                  "variant of the public key PEM).",
    "sig-confusion-pkcs1-pem": "An attacker who knows the public key can mint any token (HS256 keyed with its "
                               "PKCS#1 PEM).",
    "sig-confusion-der-cert-jwk": "An attacker who knows the public key can mint any token (HS256 keyed with its "
                                  "DER, certificate or JWK text).",
    "sig-confusion-openssh": "An attacker who knows the public key can mint any token (HS256 keyed with its "
                             "OpenSSH form).",
    "sig-confusion-hs384-512": "An attacker who knows the public key can mint any token with HS384 or HS512.",
    "sig-psychic-der": "Anyone can mint any token with the ECDSA signature r = s = 0 (CVE-2022-21449).",
    "sig-psychic-raw": "Anyone can mint any token with an all-zero ECDSA signature.",
    "sig-alg-not-allowed": "Tokens signed with algorithms outside your policy are accepted (a downgrade path).",
    "sig-alg-case": "The algorithm check is bypassed by case variants of alg.",
    "sig-alg-type-confusion": "Unexpected header types crash or confuse the verifier.",
    "sig-crit-unknown": "Tokens whose crit extensions the server does not understand are honoured anyway "
                        "(RFC 7515 §4.1.11).",
    "sig-jwe-substitution": "Anyone who can encrypt to the server's key can supply unsigned claims in a JWE.",
    "sig-jwe-p2c": "One token costs the server seconds of CPU (PBES2 iteration count): denial of service.",
    "sig-jwe-zip-bomb": "One small token inflates to megabytes in memory: denial of service.",
    "sig-json-serialization-polyglot": "Parser differentials between serialisations let a forged payload pass "
                                       "the signature check.",
    "key-kid-unknown": "Tokens signed by an unknown key are verified with a fallback key (or accepted).",
    "key-kid-empty": "An empty kid selects an empty HMAC key: anyone can mint any token.",
    "key-kid-bad-path": "Error messages reveal file paths or stack traces of the key lookup.",
    "key-kid-sqli": "kid is spliced into SQL: an attacker selects a key they know and mints any token.",
    "key-kid-cmd-injection": "kid reaches a shell: remote command execution.",
    "key-jku-ssrf": "The server fetches attacker-chosen URLs from token headers (SSRF into internal networks).",
    "key-x5u-spoof": "An attacker can host their own certificate and mint any token.",
    "key-jwk-embedded": "Anyone can mint any token by embedding their own public key in the header.",
    "key-x5c-embedded": "Anyone can mint any token by embedding their own certificate chain in the header.",
    "key-kid-absent": "Tokens without kid are verified with a fallback key, or crash the verifier.",
    "key-alg-binding": "A trusted key is used with an algorithm it was not issued for.",
    "time-exp-leeway": "Expired tokens are accepted long after exp (a clock-skew allowance that is too wide).",
    "time-exp-missing": "Tokens without an expiry never expire.",
    "time-exp-type": "Malformed exp values are treated as valid (or crash the verifier).",
    "time-nbf-future": "Tokens are accepted before their nbf time (pre-issued tokens usable early).",
    "time-nbf-now": "Valid tokens are refused at the moment they become valid.",
    "time-iat-missing": "Tokens without iat cannot be aged or bounded by issuance time.",
    "time-iat-future": "Tokens dated in the future are accepted (a sign of a forged or mis-issued token).",
    "claims-required-missing": "Tokens missing sub, client_id or jti are accepted: the subject or client is "
                               "unknown, replay cannot be tracked.",
    "claims-type-confusion": "Claims of the wrong type (null aud, string exp) are treated as valid.",
    "claims-duplicate-member": "A token with a claim given twice is authorised on the value the issuer did not "
                               "mean.",
    "claims-header-duplicate": "A header with alg given twice lets alg none through parser differences.",
    "claims-non-utf8": "Non-UTF-8 JSON is decoded differently by different parsers: a forged claim can pass.",
    "aud-array-match": "Valid tokens with an aud array are refused.",
    "aud-array-nomatch": "Tokens whose aud array does not name this API are accepted.",
    "aud-missing": "Tokens without aud are accepted here, whichever service they were meant for.",
    "aud-near-match": "Tokens for a look-alike audience (another path, case, scheme) are accepted.",
    "iss-mismatch": "Tokens from another issuer signed with a shared key are accepted.",
    "iss-near-match": "Tokens from a look-alike issuer are accepted.",
    "iss-missing": "Tokens without iss are accepted, so the issuer is never checked.",
    "typ-id-token": "ID Tokens (meant for the client) work as access tokens for this API.",
    "scope-boundary": "A token with a look-alike scope (upper case, prefix, array) passes the scope check.",
    "scope-tamper-unsigned": "The scope is read before the signature is verified.",
    "fmt-segments": "Tokens with the wrong number of segments crash or confuse the parser.",
    "fmt-base64-strict": "Non-canonical base64 is accepted: one token has many spellings (replay detection and "
                         "deny-lists miss them).",
    "fmt-dos-size": "Huge or deeply nested tokens are processed at length: denial of service.",
    "bearer-no-auth": "Clients cannot tell that the resource needs a Bearer token (RFC 6750 §3).",
    "bearer-query": "Tokens in URLs end up in logs, browser history and Referer headers.",
    "bearer-cookie-only": "A token in a cookie makes the API open to cross-site request forgery.",
    "bearer-plain-http": "Tokens travel in clear text and can be sniffed.",
    "bearer-persistence": "After a burst of forged tokens valid users are locked out (or the verifier state "
                          "is corrupted).",
    "hyg-query-cache-private": "Responses to URL tokens can be cached by shared caches.",
    "hyg-no-reflection": "Error responses echo token contents, stack traces or library names to attackers.",
    "hyg-oob-fetch": "The server fetches URLs planted in tokens or headers (SSRF).",
    "hyg-slow-response": "Injection payloads in tokens reach a slow path (SQL or command injection, "
                         "catastrophic regex).",
    "pkce-rfc7636-vector": "PKCE is implemented incorrectly: correct clients cannot redeem their codes.",
    "pkce-verifier-missing": "An intercepted code can be redeemed without the verifier: PKCE protects nothing.",
    "pkce-verifier-wrong": "Any verifier redeems the code: PKCE protects nothing.",
    "pkce-downgrade": "An attacker can strip PKCE from the authorization request and still redeem the code.",
    "pkce-required-public": "Public clients can run the code flow without PKCE: codes can be intercepted and "
                            "redeemed.",
    "pkce-plain-rejected": "With plain, the challenge is the verifier: whoever sees the request can redeem the "
                           "code.",
    "pkce-method-default-plain": "A challenge sent without a method is treated loosely (plain or guessed).",
    "pkce-method-unknown": "Unknown challenge methods are accepted as something else.",
    "pkce-verifier-format": "Verifiers of any shape are accepted, weakening PKCE's entropy guarantee.",
    "pkce-challenge-format": "Challenges of any shape are accepted.",
    "pkce-cross-code": "The verifier of one flow redeems the code of another.",
    "pkce-metadata": "Clients cannot discover that S256 is supported (and may fall back to no PKCE).",
    "redir-query-added": "Codes can be sent to the registered URL with attacker-added query parameters.",
    "redir-query-mismatch": "Codes can be sent to the registered path with another query.",
    "redir-lookalike": "An attacker can have codes sent to a look-alike redirect URI they control.",
    "redir-http-non-loopback": "Codes travel in clear text to a plain-http redirect URI.",
    "redir-fragment": "A redirect URI with a fragment is accepted (RFC 6749 §3.1.2 forbids it).",
    "authz-state-echo": "Clients cannot use state against CSRF: it does not come back intact.",
    "authz-state-absent": "Clients that send no state are refused, or get an invented one.",
    "authz-state-long": "Long state values are cut, breaking clients that carry signed state.",
    "authz-error-redirect": "Clients cannot learn why an authorization request failed.",
    "authz-duplicate-param": "Repeated parameters let an attacker smuggle their redirect_uri or scope past "
                             "checks.",
    "authz-unknown-param": "Clients using an extension parameter are refused.",
    "authz-csrf-consent": "A malicious site can log users in and grant consent on their behalf (login and "
                          "consent CSRF).",
    "authz-no-307": "A 307/308 redirect resends the user's password to the client.",
    "authz-iss-param": "Clients talking to several authorization servers can be fooled by mix-up attacks.",
    "tok-code-reuse-revokes": "The tokens from a stolen code stay valid after the replay was detected.",
    "tok-code-race": "Concurrent redemptions turn one code into several token sets.",
    "tok-code-wrong-client": "A code stolen from one client is redeemed by another.",
    "tok-redirect-mismatch": "A code obtained through one redirect URI is redeemed with another.",
    "tok-redirect-omitted": "The redirect_uri binding of the code is never checked.",
    "tok-code-garbage": "Malformed codes crash the token endpoint or get unclear answers.",
    "tok-client-auth-missing": "Anyone can act as a confidential client without its secret.",
    "tok-client-auth-bad-basic": "Clients cannot tell a wrong secret from another error (RFC 6749 §5.2).",
    "tok-client-auth-two-methods": "Ambiguous client authentication lets one credential stand for another.",
    "tok-client-id-mismatch": "A client authenticates as itself and acts for another client_id.",
    "tok-grant-unsupported": "Clients cannot tell an unsupported grant from a malformed request.",
    "tok-grant-unauthorized": "Clients use grants they were never registered for.",
    "tok-cc-public-client": "A public client (no secret) obtains client_credentials tokens.",
    "tok-cc-no-refresh": "client_credentials tokens come with long-lived refresh tokens that are not needed.",
    "tok-scope-invalid": "Unknown scopes are granted or silently dropped.",
    "tok-get": "Token requests in URLs leak codes and secrets to logs and caches.",
    "tok-duplicate-param": "Repeated parameters let an attacker smuggle values past checks.",
    "tok-error-shape": "Clients cannot parse the errors (RFC 6749 §5.2 JSON).",
    "tok-success-shape": "Clients cannot use the tokens issued (RFC 6749 §5.1 fields missing).",
    "tok-password-bcp": "The password grant exposes user credentials to clients (RFC 9700 §2.4: MUST NOT be "
                        "used).",
    "tok-password-wrong": "Clients cannot tell a wrong password from another error.",
    "tok-password-enumeration": "An attacker can tell which usernames exist.",
    "tok-password-bruteforce": "Passwords can be guessed at full speed.",
    "rt-other-client": "A refresh token stolen from one client is used by another.",
    "rt-scope-escalation": "A refresh token yields more access than was ever granted.",
    "rt-scope-narrowing": "Clients cannot ask for a narrower token (least privilege).",
    "rt-rotation-reuse": "A stolen, rotated refresh token keeps working next to the legitimate one.",
    "rt-public-client-protection": "A stolen refresh token of a public client is usable indefinitely.",
    "rt-invalid": "Tampered or revoked refresh tokens still work.",
    "rt-kind-confusion": "An access token works as a refresh token, so it never really expires.",
    "rt-response-headers": "Refresh responses (with new tokens) may be cached.",
    "rt-charset": "Tokens with characters outside VSCHAR break clients and headers.",
    "hyg-token-no-store": "Token responses may be cached by browsers and proxies.",
    "hyg-clickjacking": "Login and consent pages can be framed by another site (clickjacking).",
    "hyg-referrer": "Codes and state in page URLs leak through the Referer header.",
    "hyg-no-cors-authz": "Other origins can read the authorization endpoint's answers.",
    "hyg-credential-entropy": "Codes or tokens can be guessed.",
    "hyg-tls-only": "Credentials and codes travel in clear text.",
}
# Remediation per scenario where the family's is too broad.
FIXES: dict[str, str] = {
    "hyg-token-no-store": "Send Cache-Control: no-store and Pragma: no-cache on every token response, "
                          "successes and errors (RFC 6749 §5.1).",
    "hyg-clickjacking": "Send X-Frame-Options: DENY and Content-Security-Policy: frame-ancestors 'none' on login, "
                        "consent and error pages (RFC 6749 §10.13).",
    "hyg-referrer": "Send Referrer-Policy: no-referrer on authorization pages and load no third-party "
                    "resources (RFC 9700 §4.2.4).",
    "hyg-no-cors-authz": "Answer no CORS request at the authorization endpoint: it is for top-level navigation.",
    "hyg-credential-entropy": "Generate codes and tokens from a CSPRNG with at least 128 bits (secrets."
                              "token_urlsafe(32); RFC 6749 §10.10).",
    "hyg-tls-only": "Serve the authorization and token endpoints over TLS only (RFC 6749 §3.1, §3.2).",
    "tok-password-bruteforce": "Throttle failed logins per account and per client (429 with Retry-After).",
    "tok-password-enumeration": "Answer an unknown user exactly like a wrong password, and spend the same time.",
    "tok-password-bcp": "Disable the password grant; use the authorization code flow with PKCE (RFC 9700 §2.4).",
    "authz-csrf-consent": "Bind login and consent forms to the user's session with a CSRF token and check "
                          "Origin (RFC 6749 §10.12).",
    "authz-no-307": "Answer credential POSTs with 303 See Other (RFC 9700 §4.11).",
    "authz-iss-param": "Send iss in every authorization response when advertised (RFC 9207 §2).",
    "bearer-query": "Accept tokens in the Authorization header only; if the query is supported, answer with "
                    "Cache-Control: private (RFC 6750 §2.3).",
    "bearer-plain-http": "Serve the API over TLS only and refuse plain-http requests (RFC 6750 §5.3).",
}
# A deviation: the attack was refused, with another answer than the RFC prescribes. What it costs and the fix
# are about the answer, whatever the attack was.
RS_DEVIATION = _a("No forged or invalid token got through, but the refusal is not the one the RFC prescribes: "
                  "clients, gateways and monitoring that rely on the standard answer misread it.",
                  "Refuse with the status, error code and challenge the quoted rule names: 401 with "
                  'WWW-Authenticate: Bearer error="invalid_token" (400 invalid_request for a malformed request, '
                  "403 insufficient_scope) (RFC 6750 §3.1).", BY_FAMILY["bearer"]["hints"])
AS_DEVIATION = _a("The attack was refused, but not the way the RFC prescribes: clients cannot rely on the "
                  "standard error to recover or to report it.",
                  "Answer with the status, error code and headers the quoted rule names (RFC 6749 §5.2 at the "
                  "token endpoint, RFC 6749 §4.1.2.1 at the authorization endpoint).", [])
# For a scenario neither table names (a family added later).
FALLBACK = _a("The target does not enforce this rule.", "Follow the RFC sentence quoted with this finding.")


def advice(scenario_id: str, family: str) -> dict:
    """The impact, remediation and hints for one scenario: its own entry, else its family's, with its own
    impact sentence and fix where given."""
    if scenario_id in BY_ID:
        return BY_ID[scenario_id]
    out = dict(BY_FAMILY.get(family) or FALLBACK)
    out["impact"] = IMPACTS.get(scenario_id, out["impact"])
    if scenario_id in FIXES:
        out["remediation"], out["hints"] = FIXES[scenario_id], []
    return out


REMEDIATION: dict[str, dict] = {
    s.id: {**advice(s.id, s.family), "deviation": RS_DEVIATION if s.applies_to == "resource-server" else AS_DEVIATION}
    for s in CATALOG}
