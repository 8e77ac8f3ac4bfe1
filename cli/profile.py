"""``run.py profile init|check``: write a starter target profile from discovery, and say what it will run.

``init --issuer URL`` reads the authorization server's metadata (RFC 8414 §3.1: the well-known segment
inserted before the issuer's path, then OpenID Connect Discovery), its JWK Set (RFC 7517), the login form
(when a client id and redirect URI are given) and, with ``--resource URL``, what the API answers without a
token (RFC 6750 §3: 401 with a Bearer challenge); it writes a commented TOML profile (the format of
harness/targets.py) with what it found and ``TODO`` where only you know (credentials, a test subject).

``check FILE`` validates a profile (exit 2 with one line naming the field), prepares the target as a run
would (reaches it, gets a valid token, signs in once) and lists, per scenario family, what will run and
what is missing to run the rest, with the runner's own capability logic.
Exit codes: 0 ok, 2 usage or configuration error (a TODO left, a bad field, discovery failed).
"""
from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import sys
from collections import OrderedDict
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import aiohttp

TODO = "TODO"


class ProfileInitError(Exception):
    exit_code = 2


# -- discovery ---------------------------------------------------------------------------------------------
async def discover(issuer: str, client_id: str | None, redirect_uri: str | None, resource: str | None,
                   timeout: float = 10.0) -> dict[str, Any]:
    """What the target shows about itself, as plain data for ``render``."""
    from harness import askit, client, login
    found: dict[str, Any] = {"issuer": issuer, "notes": []}
    async with client.new_session(timeout) as session:
        try:
            meta, obs = await askit.discover(session, found["issuer"])
        except askit.Unreachable as exc:
            raise ProfileInitError(f"discovery failed: {exc}") from None
        found.update(meta=meta, metadata_url=obs.url, issuer=meta["issuer"])
        jwks_uri = meta.get("jwks_uri")
        if isinstance(jwks_uri, str):
            j = await client.send(session, "GET", jwks_uri, label="jwks")
            keys = _json(j.body).get("keys") if j.status == 200 else None  # application/jwk-set+json too
            if isinstance(keys, list):
                found["jwks"] = [k for k in keys if isinstance(k, dict)]
            else:
                found["notes"].append(f"jwks_uri {jwks_uri} answered {j.status or j.error}")
        if client_id and redirect_uri:
            found["login_fields"] = await _login_fields(session, meta["authorization_endpoint"], client_id,
                                                        redirect_uri, askit, login)
        if resource:
            r = await client.send(session, "GET", resource, label="resource without a token")
            if r.status is None:
                raise ProfileInitError(f"the resource {resource} is unreachable ({r.error})")
            found["resource"] = {"url": resource, "status": r.status,
                                 "challenge": ", ".join(r.header_values("WWW-Authenticate"))}
    return found


async def _login_fields(session, endpoint: str, client_id: str, redirect_uri: str, askit, login) -> dict | None:
    """The names of the username and password inputs of the login form the authorization request shows."""
    query = urlencode({"response_type": "code", "client_id": client_id, "redirect_uri": redirect_uri,
                       "state": "profile-init", "code_challenge": askit.s256(askit.new_verifier()),
                       "code_challenge_method": "S256"})
    try:  # its own session: the login page may need the cookies the authorization endpoint sets
        async with aiohttp.ClientSession(timeout=session.timeout, cookie_jar=aiohttp.CookieJar(unsafe=True)) as s, \
                s.get(f"{endpoint}{'&' if '?' in endpoint else '?'}{query}", allow_redirects=True) as resp:
            page = (await resp.content.read(login.PAGE_LIMIT)).decode("utf-8", "replace")
    except Exception:  # noqa: BLE001 - no login form found is reported as a TODO, not a crash
        return None
    for form in login.parse_forms(page):
        if form.has_password:
            password = next(f.name for f in form.fields if f.type == "password")
            user = next((f.name for f in form.fields if f.tag == "input" and f.type in ("text", "email")), None)
            return {"username": user, "password": password}
    return None


def _json(text: str) -> dict:
    try:
        data = json.loads(text)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


# -- the profile text -------------------------------------------------------------------------------------
def _q(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def _algorithm(found: dict) -> str | None:
    algs = [k.get("alg") for k in found.get("jwks", []) if k.get("use", "sig") == "sig" and k.get("alg")]
    if not algs:
        kty = {k.get("kty") for k in found.get("jwks", [])}
        algs = ["RS256"] if "RSA" in kty else ["ES256"] if "EC" in kty else []
    return algs[0] if algs else None


def render(found: dict, name: str, client_id: str | None, redirect_uri: str | None) -> str:
    meta, issuer = found["meta"], found["issuer"]
    scopes = [s for s in meta.get("scopes_supported", []) if isinstance(s, str) and s != "openid"]
    fields = found.get("login_fields") or {}
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [f"# Starter profile written by `python run.py profile init` on {now}",
             f"# from {found['metadata_url']}. Replace every TODO, then:",
             "#   python run.py profile check THIS_FILE     (what will run, what is missing)",
             "#   python run.py conformance --target THIS_FILE",
             "# Use test clients and test users of a test deployment: the harness replays attacks.",
             f"name = {_q(name)}", 'kind = "authorization-server"', f"base_url = {_q(issuer)}", "",
             "[authorization_server]", f"issuer = {_q(issuer)}  # the metadata's issuer (RFC 8414 §3.3)",
             f"# authorization_endpoint: {meta.get('authorization_endpoint')}",
             f"# token_endpoint: {meta.get('token_endpoint')}",
             f"# code_challenge_methods_supported: {meta.get('code_challenge_methods_supported', 'not advertised')}"]
    lines.append(f"client_id = {_q(client_id)}" if client_id else
                 f'client_id = "{TODO}: a public client registered for the authorization code flow"')
    lines.append(f"redirect_uri = {_q(redirect_uri)}" if redirect_uri else
                 f'redirect_uri = "{TODO}: the redirect URI registered for that client (nothing needs to listen)"')
    lines.append(f"scope = {_q(' '.join(scopes))}  # TODO: check: the scopes that client may ask for"
                 f" (scopes_supported: {' '.join(scopes) or 'not advertised'})" if scopes else
                 f'scope = "{TODO}: the scopes the client may ask for (space-separated)"')
    lines += [f'username = "{TODO}: a test user that can log in"', f'password = "{TODO}: its password"']
    if fields:
        lines += [f"username_field = {_q(fields.get('username') or 'username')}  # read from the login form",
                  f"password_field = {_q(fields['password'])}  # read from the login form"]
    else:
        lines += ['username_field = "username"  # the login form\'s input names (not read: give --client-id and '
                  '--redirect-uri to read them)', 'password_field = "password"']
    lines += ["# A confidential client enables the client-authentication and client_credentials scenarios:",
              f'# confidential_client_id = "{TODO}"', f'# confidential_client_secret_env = "{TODO}_ENV_VAR_NAME"']
    if "resource" in found:
        lines += _resource_lines(found, client_id)
    if found["notes"]:
        lines += [""] + [f"# note: {n}" for n in found["notes"]]
    return "\n".join(lines) + "\n"


def _resource_lines(found: dict, client_id: str | None) -> list[str]:
    r, issuer = found["resource"], found["issuer"]
    alg = _algorithm(found)
    bearer = r["challenge"].lower().startswith("bearer")
    seen = (f"answered {r['status']} without a token"
            + (f", WWW-Authenticate: {r['challenge']}" if r["challenge"] else ", no WWW-Authenticate challenge"))
    lines = ["", "# The API (resource server), probed at " + r["url"] + f": {seen}."]
    if r["status"] != 401 or not bearer:
        lines.append("# RFC 6750 §3: a request without a token gets 401 with a Bearer challenge; this one did not.")
    kids = ", ".join(f"{k.get('kid')} ({k.get('kty')}/{k.get('alg', '?')})" for k in found.get("jwks", []))
    lines += ["[resource]", f"endpoint = {_q(r['url'])}", f"issuer = {_q(issuer)}",
              f"algorithm = {_q(alg or TODO + ': RS256, ES256, HS256 or opaque')}"
              + (f"  # the JWKS holds: {kids}" if kids else ""),
              f'audience = "{TODO}: the aud value your API requires (often its base URL)"',
              f'subject = "{TODO}: the sub of a valid test user"',
              '# rfc9068 = true  # if the API is an RFC 9068 resource server: tokens typ at+jwt, iss/aud/exp required',
              '# typ = "JWT"  # the typ header the API requires, if another one',
              '# scoped_endpoint = "/TODO"  # a route that needs scoped_scope (together with it)',
              '# scoped_scope = "TODO"', 'scope = ""  # TODO: the scopes a valid token for endpoint carries',
              "claims = { client_id = "
              + (_q(client_id) if client_id else f'"{TODO}: the client the tokens are issued to"')
              + " }  # RFC 9068 §2.2: client_id is REQUIRED in a JWT access token"]
    if found["meta"].get("jwks_uri"):
        lines.append(f"jwks_url = {_q(found['meta']['jwks_uri'])}")
    lines += ["# How the harness gets tokens the API trusts (exactly one):",
              '#  - it signs them: private_key_file = the issuer\'s private key (only for a deployment you own),',
              '#  - or the API trusts an issuer the harness hosts: hosted_issuer = "127.0.0.1:PORT",',
              '#  - or algorithm = "opaque" with token_endpoint, username and password (password grant).',
              f'private_key_file = "{TODO}: path to the PEM private key the issuer signs access tokens with"']
    return lines


def init(args: argparse.Namespace) -> int:
    parts = urlsplit(args.issuer)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        print(f"error: --issuer must be an absolute http(s) URL, got {args.issuer!r}", file=sys.stderr)
        return 2
    found = asyncio.run(discover(args.issuer, args.client_id, args.redirect_uri, args.resource))
    name = args.name or (parts.hostname or "target").replace(".", "-") + (f"-{parts.port}" if parts.port else "")
    text = render(found, name, args.client_id, args.redirect_uri)
    if args.output:
        if Path(args.output).exists() and not args.force:
            print(f"error: {args.output} exists (a profile you may have filled in); use --force to overwrite it",
                  file=sys.stderr)
            return 2
        Path(args.output).write_text(text, encoding="utf-8")
        todos = sum(1 for line in text.splitlines() if f'"{TODO}' in line and not line.lstrip().startswith("#"))
        print(f"wrote {args.output} ({todos} TODO value(s) to fill in; then: python run.py profile check "
              f"{args.output})", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


# -- check --------------------------------------------------------------------------------------------------
def todo_fields(data: dict, prefix: str = "") -> list[str]:
    out = []
    for k, v in data.items():
        if isinstance(v, dict):
            out += todo_fields(v, f"{prefix}{k}.")
        elif isinstance(v, str) and v.strip().upper().startswith(TODO):
            out.append(f"{prefix}{k}")
    return out


def check(args: argparse.Namespace) -> int:
    from conformance import CATALOG
    from harness import plan
    from harness.targets import profile_from_dict, read_toml
    path = Path(args.file)
    data = read_toml(path)
    todos = todo_fields(data)
    if todos:
        print(f"error: {path}: {todos[0]}: still TODO ({len(todos)} TODO value(s) left: {', '.join(todos)})",
              file=sys.stderr)
        return 2
    target = profile_from_dict(data, path)
    problem = ""
    if args.offline:
        tr, note = plan.offline(target, CATALOG), "offline"
    else:
        try:
            tr, note = asyncio.run(plan.prepared(target, CATALOG, sign_in=True)), ""
        except plan.NotReady as exc:
            tr, note, problem = plan.offline(target, CATALOG), "the target is not ready", str(exc)
    if note:
        note += ": judged from the profile alone (what only the target can show is assumed there)"
    print(f"{path}: valid profile for {target.name} ({target.kind}, {target.base_url})")
    if note:
        print(f"note: {note}")
    families: dict[str, list] = OrderedDict()
    for s in CATALOG:
        families.setdefault(s.family or s.id.split("-")[0], []).append(s)
    total = 0
    for fam, scenarios in families.items():
        missing: dict[str, list[str]] = OrderedDict()
        runs = 0
        for s in scenarios:
            why = plan.reason(tr, s)
            if why:
                missing.setdefault(why, []).append(s.id)
            else:
                runs += 1
        total += runs
        print(f"  {fam:<11} {runs:>3}/{len(scenarios):<3} will run")
        for why, ids in missing.items():
            print(f"  {'':<11} {len(ids):>3} not: {why} ({', '.join(ids[:4])}{', …' if len(ids) > 4 else ''})")
    print(f"{total} of {len(CATALOG)} scenarios will run (a scenario may still find at run time that the target "
          "lacks what it tests, e.g. a metadata field: it is then reported not applicable with the reason)")
    if problem:
        print(f"error: {target.name}: {problem} (--offline checks the profile alone)", file=sys.stderr)
        return 2
    return 0


def run(args: argparse.Namespace) -> int:
    return init(args) if args.profile_command == "init" else check(args)


def register(sub) -> None:
    p = sub.add_parser("profile", help="write a target profile from discovery (init) or check one (check)",
                       description="Target profiles for `run.py conformance --target`. Exit codes: 0 ok, 2 usage or "
                                   "configuration error (a TODO left, a bad field, discovery failed).")
    psub = p.add_subparsers(dest="profile_command", metavar="init|check")
    psub.required = True
    i = psub.add_parser("init", help="read RFC 8414 / OpenID discovery, the JWKS and the API; write a starter profile",
                        description="Write a commented starter profile with what discovery shows and TODO for what "
                                    "only you know (credentials, a valid subject).")
    i.add_argument("--issuer", required=True, metavar="URL", help="the authorization server's issuer identifier")
    i.add_argument("--client-id", metavar="ID", help="a public client for the code flow (reads its login form)")
    i.add_argument("--redirect-uri", metavar="URI", help="that client's registered redirect URI")
    i.add_argument("--resource", metavar="URL", help="a protected API endpoint to probe (adds a [resource] table)")
    i.add_argument("--name", help="the target's name in reports (default: from the issuer's host)")
    i.add_argument("--output", metavar="FILE", help="write the profile here (default: stdout)")
    i.add_argument("--force", action="store_true", help="overwrite --output if it exists")
    c = psub.add_parser("check", help="validate a profile and say what will run",
                        description="Validate a profile (exit 2 naming the field on error) and list per scenario "
                                    "family what will run and what is missing to run the rest.")
    c.add_argument("file", metavar="FILE")
    c.add_argument("--offline", action="store_true", help="do not contact the target (judge from the profile alone)")
    p.set_defaults(func=run)
