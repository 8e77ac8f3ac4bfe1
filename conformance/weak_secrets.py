"""The HMAC secrets sig-hs-weak-key tries: secrets published in framework docs, library READMEs and IdP
samples (apps copy them verbatim), then dictionary words. RFC 8725 §3.5: "human-memorizable passwords MUST NOT
be directly used as the key to a keyed-MAC JWS algorithm"."""
from __future__ import annotations

# Secrets tried by sig-hs-weak-key. Apps copy published secrets verbatim, so the list holds them beside the
# dictionary words (RFC 8725 §3.5: "human-memorizable passwords MUST NOT be directly used as the key").
PUBLISHED_SECRETS = (
    # FastAPI docs, "OAuth2 with Password (and hashing), Bearer with JWT tokens": SECRET_KEY
    "09d25e094faa6ca2556c818166b7a9563b93f7099f6f0f4caa6cf63b88e8d3e7",
    # jwt.io debugger's default HS256 secret (older and current debugger)
    "your-256-bit-secret", "a-string-secret-at-least-256-bits-long",
    # jsonwebtoken (auth0/node-jsonwebtoken) README: jwt.sign({ foo: 'bar' }, 'shhhhh')
    "shhhhh",
    # express-jwt README: expressjwt({ secret: "shhhhhhared-secret", algorithms: ["HS256"] })
    "shhhhhhared-secret",
    # Flask-JWT-Extended docs, basic usage: app.config["JWT_SECRET_KEY"] = "super-secret"  # Change this!
    "super-secret",
    # firebase/php-jwt README: $key = 'example_key';
    "example_key",
    # LoopBack 4 @loopback/authentication-jwt: TokenServiceConstants.TOKEN_SECRET_VALUE
    "myjwts3cr3t",
    # NestJS docs, Authentication recipe: jwtConstants.secret
    "DO NOT USE THIS VALUE. INSTEAD, CREATE A COMPLEX SECRET AND KEEP IT SAFE OUTSIDE OF THE SOURCE CODE.",
    # Supabase CLI local development stack: the default JWT_SECRET
    "super-secret-jwt-token-with-at-least-32-characters-long",
    # express-session README / countless Express samples
    "keyboard cat",
    # GeeksforGeeks JWT tutorials (Node and Python)
    "gfg_jwt_secret_key",
    # Kiali as installed by Istio before 1.4.7/1.5.1: the hard-coded login-token signing key (CVE-2020-1764,
    # istio-security-2020-004; Kiali 1.15.1 refuses it: kiali/kiali#2624)
    "kiali",
)
# Dictionary words and framework placeholders (jwt_tool's jwt-common.txt favourites).
COMMON_SECRETS = ("secret", "Secret", "SECRET", "secret123", "secretkey", "secret_key", "secret-key", "mysecret",
                  "my_secret", "supersecret", "topsecret", "password", "Password", "password123", "passw0rd",
                  "changeme", "changeit", "default", "key", "jwt", "jwt_secret", "jwtsecret", "jwt-secret", "token",
                  "test", "testing", "dev", "development", "admin", "root", "12345", "123456", "1234567890",
                  "qwerty", "letmein", "abc123", "your-secret-key", "your_jwt_secret", "hello", "notasecret",
                  "none", "null", "1", "0", "a", "s3cr3t", "S3cr3t", "pass", "private", "public", "HS256")
WEAK_SECRETS = PUBLISHED_SECRETS + COMMON_SECRETS
