"""``run.py flow``: the Authorization Code + PKCE flow headless, step by step (what the SPA does, for
scripts, learners and the harness).

1. discovery (RFC 8414 §3.1, then OpenID Connect), 2. PKCE verifier/challenge (RFC 7636) and state,
3. the authorization request, 4. the login form (username/password; the CSRF token and hidden fields are
kept as the page sends them), 5. the callback (state and RFC 9207 iss checked), 6. the token request,
7. the access token decoded and its signature checked with the issuer's JWKS, 8. optionally an API call.

The password comes from --password-stdin, $OAUTHLAB_PASSWORD or --password (visible in the process list:
for throwaway test accounts only). It is never printed; tokens are printed shortened.
Exit codes: 0 the flow completed (and the API answered 2xx), 1 the flow failed, 2 usage or configuration
error (no password, unreachable issuer or no metadata for it, bad URL).
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import sys
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

from servers.common.settings import ConfigError

from . import color_enabled


class FlowFailed(Exception):
    """The server refused a step: exit 1."""


class Printer:
    def __init__(self) -> None:
        self.color = color_enabled(sys.stdout)
        self.n = 0

    def step(self, title: str) -> None:
        self.n += 1
        text = f"[{self.n}] {title}"
        print(f"\033[1m{text}\033[0m" if self.color else text)

    def kv(self, key: str, value) -> None:
        print(f"    {key:<16} {value}")


def short(token: str) -> str:
    return token if len(token) <= 24 else f"{token[:12]}…{token[-6:]} ({len(token)} chars)"


def read_password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        pw = sys.stdin.readline().rstrip("\n")
    elif os.environ.get("OAUTHLAB_PASSWORD"):
        pw = os.environ["OAUTHLAB_PASSWORD"]
    elif args.password is not None:
        pw = args.password
    else:
        raise ConfigError("no password: use --password-stdin, $OAUTHLAB_PASSWORD or --password")
    if not pw:
        raise ConfigError("empty password")
    return pw


async def discover(session, issuer: str, out: Printer) -> dict:
    """The harness's discovery client: RFC 8414 §3.1 (the well-known segment inserted before the issuer's
    path), then OpenID Connect Discovery; the metadata must name this issuer (RFC 8414 §3.3)."""
    from harness.askit import Unreachable
    from harness.askit import discover as discover_metadata

    out.step("Discovery")
    try:
        meta, obs = await discover_metadata(session, issuer)
    except Unreachable as exc:
        raise ConfigError(str(exc)) from None
    out.kv("metadata", obs.url)
    if "S256" not in meta.get("code_challenge_methods_supported", []):
        raise FlowFailed("the server does not advertise PKCE S256")
    for k in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
        out.kv(k, meta.get(k))
    if not isinstance(meta.get("jwks_uri"), str):
        raise FlowFailed("the metadata has no jwks_uri: the token's signature cannot be checked")
    return meta


def login_form(html: str):
    """The first form with a password field (the harness's HTML form parser), or None."""
    from harness.login import parse_forms

    return next((f for f in parse_forms(html) if f.has_password), None)


async def authorize(session, args, meta: dict, challenge: str, state: str, password: str, out: Printer) -> str:
    """Walk the authorization request and the login form; returns the callback URL."""
    params = {"response_type": "code", "client_id": args.client_id, "redirect_uri": args.redirect_uri,
              "scope": args.scope, "state": state, "code_challenge": challenge, "code_challenge_method": "S256"}
    if args.resource:
        params["resource"] = args.resource
    url = meta["authorization_endpoint"] + "?" + urlencode(params)
    out.step("Authorization request")
    out.kv("GET", url)
    method, data = "GET", None
    for _ in range(10):
        async with session.request(method, url, data=data, allow_redirects=False) as resp:
            body = await resp.text()
            location = resp.headers.get("Location")
            out.kv(f"{method} ->", f"{resp.status} {urlsplit(url).path}")
            if resp.status in (301, 302, 303) and location:
                url, method, data = urljoin(url, location), "GET", None
                if url.startswith(args.redirect_uri):
                    return url
                continue
            if resp.status == 307:
                raise FlowFailed("the server answered 307 to a form post (RFC 9700 §4.12)")
            form = login_form(body)
            if form is None:
                raise FlowFailed(f"HTTP {resp.status} without a login form at {urlsplit(url).path}")
            if data is not None:
                raise FlowFailed(f"login refused (HTTP {resp.status})")
            out.step("Login form")
            fields = {}
            for i in form.fields:
                if not i.name or i.tag != "input" or i.type in ("submit", "image", "button", "reset", "file"):
                    continue
                if i.type == "password":
                    fields[i.name] = password
                elif i.type in ("text", "email") and not i.value:
                    fields[i.name] = args.username
                else:
                    fields[i.name] = i.value
            out.kv("fields", ", ".join(f"{k}=***" if v == password else f"{k}={short(v)}"
                                       for k, v in fields.items()))
            url, method, data = urljoin(url, form.action), form.method.upper(), fields
    raise FlowFailed("too many redirects")


def check_callback(url: str, state: str, issuer: str, out: Printer) -> str:
    q = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    out.step("Callback")
    out.kv("redirect", url.split("?")[0])
    if "error" in q:
        raise FlowFailed(f"authorization error {q['error']}: {q.get('error_description', '')}")
    if not secrets.compare_digest(q.get("state", ""), state):
        raise FlowFailed("state does not match (RFC 6749 §10.12)")
    out.kv("state", "matches")
    if "iss" in q:
        if q["iss"] != issuer:
            raise FlowFailed(f"iss {q['iss']!r} is not the issuer (RFC 9207 mix-up defence)")
        out.kv("iss", f"{q['iss']} (matches)")
    if "code" not in q:
        raise FlowFailed("no code in the callback")
    out.kv("code", q["code"])
    return q["code"]


async def verify_token(session, meta: dict, token: str, out: Printer) -> dict:
    import jwt

    from servers.common.errors import OAuthError
    from servers.common.jwks import RemoteJWKS

    header = jwt.get_unverified_header(token)
    claims = jwt.decode(token, options={"verify_signature": False})
    out.step("Access token")
    out.kv("token", short(token))
    print("    header  " + json.dumps(header))
    print("    claims  " + json.dumps(claims, indent=2).replace("\n", "\n            "))
    if header.get("alg") != "RS256":
        raise FlowFailed(f"alg {header.get('alg')!r} is not RS256")
    # The shared JWKS cache: only keys usable for RS256 (RFC 8725 §3.1), bounded fetch, no redirects.
    jwks = RemoteJWKS(meta["issuer"], meta["jwks_uri"], algorithms=("RS256",), discover_metadata=False)
    jwks.session = session
    try:
        key = await jwks.resolve(header)
    except OAuthError as exc:
        raise FlowFailed(f"no usable RS256 key for kid {header.get('kid')!r} in the JWKS: {exc.reason}") from None
    try:
        jwt.decode(token, key, algorithms=["RS256"], issuer=meta["issuer"], options={"verify_aud": False})
    except jwt.PyJWTError as exc:
        raise FlowFailed(f"the token does not verify with the issuer's JWKS: {exc}") from None
    out.kv("signature", f"valid (RS256, kid {header['kid']}, from {meta['jwks_uri']})")
    return claims


async def run_flow(args: argparse.Namespace) -> int:
    import aiohttp

    from servers.common import pkce

    password = read_password(args)
    issuer = args.issuer.rstrip("/")
    if not issuer.startswith(("http://", "https://")):
        raise ConfigError(f"--issuer must be an http(s) URL, got {issuer!r}")
    out = Printer()
    jar = aiohttp.CookieJar(unsafe=True)  # the AS's login cookies on 127.0.0.1 (an IP host)
    async with aiohttp.ClientSession(cookie_jar=jar, timeout=aiohttp.ClientTimeout(total=20)) as session:
        meta = await discover(session, issuer, out)
        out.step("PKCE (RFC 7636, S256) and state")
        verifier, state = pkce.new_verifier(), secrets.token_urlsafe(16)
        challenge = pkce.s256(verifier)
        out.kv("code_verifier", verifier)
        out.kv("code_challenge", challenge)
        out.kv("state", state)
        try:
            callback = await authorize(session, args, meta, challenge, state, password, out)
            code = check_callback(callback, state, meta["issuer"], out)
            out.step("Token request")
            data = {"grant_type": "authorization_code", "code": code, "redirect_uri": args.redirect_uri,
                    "client_id": args.client_id, "code_verifier": verifier}
            out.kv("POST", meta["token_endpoint"])
            async with session.post(meta["token_endpoint"], data=data) as resp:
                body = await resp.json(content_type=None)
                if resp.status != 200:
                    raise FlowFailed(f"token endpoint: HTTP {resp.status} {body.get('error')}")
            out.kv("token_type", body.get("token_type"))
            out.kv("expires_in", body.get("expires_in"))
            out.kv("scope", body.get("scope"))
            if body.get("refresh_token"):
                out.kv("refresh_token", short(body["refresh_token"]))
            await verify_token(session, meta, body["access_token"], out)
            if args.api:
                out.step("API call")
                out.kv("GET", args.api)
                async with session.get(args.api, headers={"Authorization": f"Bearer {body['access_token']}"},
                                       allow_redirects=False) as resp:
                    text = await resp.text()
                    out.kv("status", resp.status)
                    print("    " + text[:2000].replace("\n", "\n    "))
                    if not 200 <= resp.status < 300:
                        raise FlowFailed(f"the API answered {resp.status}")
        except FlowFailed as exc:
            print(f"FAILED: {exc}", file=sys.stderr)
            return 1
        except aiohttp.ClientError as exc:
            print(f"FAILED: {exc.__class__.__name__}: {exc}", file=sys.stderr)
            return 1
    print("OK: the Authorization Code + PKCE flow completed")
    return 0


def register(sub) -> None:
    p = sub.add_parser("flow", help="run the Authorization Code + PKCE flow headless, printing each step",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--issuer", default="http://127.0.0.1:9001", help="authorization server issuer URL")
    p.add_argument("--client-id", default="frontend")
    p.add_argument("--redirect-uri", default="http://127.0.0.1:8080/callback",
                   help="a registered redirect URI of the client (nothing needs to listen there)")
    p.add_argument("--scope", default="me items")
    p.add_argument("--resource", help="RFC 8707 resource (default: the client's default audience)")
    p.add_argument("--username", default="johndoe")
    p.add_argument("--password", help="the password (prefer --password-stdin or $OAUTHLAB_PASSWORD)")
    p.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    p.add_argument("--api", metavar="URL", help="call this API URL with the access token, e.g. "
                   "http://127.0.0.1:9000/users/me")
    p.set_defaults(func=lambda args: asyncio.run(run_flow(args)))
