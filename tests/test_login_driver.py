"""The login driver (harness/login.py, cookies.py, forms.py, sender.py) against small hand-written login pages: it fills the first form with a
password field, keeps hidden inputs, resolves the action, presses the approve button of a consent form,
keeps cookies for the authorization server's origin only, and stops at the redirect URI without
contacting it."""
from __future__ import annotations

import asyncio
from urllib.parse import parse_qsl

from aiohttp import web

from harness.client import new_session
from harness.cookies import OriginJar
from harness.forms import choose_approve, parse_forms
from harness.login import Credentials, drive
from harness.scenario import Observation
from harness.sender import fetch, resend_once

CALLBACK = "http://localhost:9/callback"   # port 9 (discard): nothing listens; the driver must not go there
CREDS = Credentials("johndoe", "s3cret-pw", "login", "pass")

LOGIN_PAGE = """<!doctype html><html><body>
<form action="/search" method="get"><input name="q"></form>
<form action="../session/new?x=1" method="POST">
  <input type="hidden" name="csrf" value="tok&amp;123">
  <input type="text" name="login"><input type="password" name="pass">
  <input type="checkbox" name="remember" value="yes" checked><input type="checkbox" name="spam" value="1">
  <select name="lang"><option value="en">en</option><option value="fr" selected>fr</option></select>
  <button type="submit" name="go" value="1">Sign in</button>
</form></body></html>"""

CONSENT_PAGE = """<html><body><form method="post" action="/consent">
<input type="hidden" name="ticket" value="T1">
<button type="submit" name="decision" value="deny">Deny</button>
<button type="submit" name="decision" value="allow">Allow access</button>
</form></body></html>"""


def login_app(seen: list) -> web.Application:
    async def authorize(request: web.Request) -> web.Response:
        if request.cookies.get("sid") == "S1":
            return web.Response(status=302, headers={"Location": f"{CALLBACK}?code=C0DE&state=st&iss=http%3A%2F%2Fas"})
        resp = web.Response(text=LOGIN_PAGE, content_type="text/html")
        resp.set_cookie("pre", "P1")
        return resp

    async def login(request: web.Request) -> web.Response:
        form = dict(parse_qsl((await request.read()).decode()))
        seen.append(("login", request.path_qs, form, request.headers.get("Cookie")))
        if form.get("pass") != "s3cret-pw" or form.get("csrf") != "tok&123":
            return web.Response(status=403, text="no")
        resp = web.Response(text=CONSENT_PAGE, content_type="text/html")
        resp.set_cookie("sid", "S0")
        return resp

    async def consent(request: web.Request) -> web.Response:
        form = dict(parse_qsl((await request.read()).decode()))
        seen.append(("consent", request.path_qs, form, request.headers.get("Cookie")))
        resp = web.Response(status=303, headers={"Location": "/oauth/authorize?again=1"})
        resp.set_cookie("sid", "S1")
        return resp

    app = web.Application()
    app.router.add_get("/oauth/authorize", authorize)
    app.router.add_post("/session/new", login)
    app.router.add_post("/consent", consent)
    return app


async def test_driver_logs_in_consents_and_stops_at_the_redirect_uri(aiohttp_server):
    """The driver fills the first form that has a password field (keeping its hidden inputs, such as a CSRF
    token), submits any consent form that follows, and stops at the redirect_uri (it never needs a server
    listening there)."""
    seen: list = []
    server = await aiohttp_server(login_app(seen), host="127.0.0.1")
    start = str(server.make_url("/oauth/authorize?client_id=c"))
    jar = OriginJar(start)
    async with new_session() as session:
        walk = await drive(session, start, credentials=CREDS, jar=jar, stop_uris=[CALLBACK])
    assert walk.redirected and walk.location.startswith(CALLBACK)
    assert (walk.code, walk.state, walk.iss, walk.error) == ("C0DE", "st", "http://as", None)
    kind, path, form, cookie = seen[0]
    assert (kind, path) == ("login", "/session/new?x=1")       # "../session/new?x=1" resolved against the page
    assert form == {"login": "johndoe", "pass": "s3cret-pw", "csrf": "tok&123", "remember": "yes", "lang": "fr",
                    "go": "1"}
    assert cookie == "pre=P1"
    kind, path, form, cookie = seen[1]
    assert form == {"ticket": "T1", "decision": "allow"}      # the approve button, not the first (deny)
    assert cookie == "pre=P1; sid=S0"
    # evidence never carries the password or cookie values
    assert walk.login_post is not None and "s3cret-pw" not in (walk.login_post.request_body or "")
    assert "pass=%2A%2A%2A" in walk.login_post.request_body
    assert all("P1" not in o.request_headers.get("Cookie", "") for o in walk.steps)


async def test_driver_keeps_cookies_for_the_as_origin_only(aiohttp_server):
    """Cookies set by another origin are not stored, and the AS's cookies are never sent elsewhere."""
    jar = OriginJar("http://127.0.0.1:5000/authorize")
    jar.store("http://127.0.0.1:5001/x", ["evil=1"])
    jar.store("http://127.0.0.1:5000/login", ["sid=abc; Path=/; HttpOnly; SameSite=Lax"])
    assert jar.header("http://127.0.0.1:5000/authorize") == "sid=abc"
    assert jar.header("http://127.0.0.1:5001/authorize") is None
    assert jar.header("http://localhost:5000/authorize") is None
    jar.store("http://127.0.0.1:5000/logout", ["sid=; Max-Age=0"])
    assert jar.header("http://127.0.0.1:5000/") is None


async def test_driver_never_follows_a_redirect_to_another_host(aiohttp_server):
    """A vulnerable AS may redirect to an attacker's host: the walk stops there, with the Location parsed."""
    async def authorize(request):
        return web.Response(status=302, headers={"Location": "https://attacker.example/cb?code=stolen"})
    app = web.Application()
    app.router.add_get("/authorize", authorize)
    server = await aiohttp_server(app, host="127.0.0.1")
    start = str(server.make_url("/authorize"))
    async with new_session() as session:
        walk = await drive(session, start, credentials=CREDS, jar=OriginJar(start), stop_uris=[CALLBACK])
    assert len(walk.steps) == 1 and walk.location == "https://attacker.example/cb?code=stolen"
    assert walk.code == "stolen"


async def test_driver_reports_refused_credentials_as_a_dead_end(aiohttp_server):
    """Wrong credentials: the login form comes back; the walk ends without a redirect (no loop)."""
    async def authorize(request):
        return web.Response(text=LOGIN_PAGE, content_type="text/html")

    async def login(request):
        return web.Response(text=LOGIN_PAGE, content_type="text/html")
    app = web.Application()
    app.router.add_get("/oauth/authorize", authorize)
    app.router.add_post("/session/new", login)
    server = await aiohttp_server(app, host="127.0.0.1")
    start = str(server.make_url("/oauth/authorize"))
    async with new_session() as session:
        walk = await drive(session, start, credentials=CREDS, jar=OriginJar(start), stop_uris=[CALLBACK])
    assert not walk.redirected and walk.code is None
    assert "credentials were refused" in walk.stopped and len(walk.steps) == 3


def test_form_parser_and_consent_button_choice():
    forms = parse_forms(LOGIN_PAGE + CONSENT_PAGE)
    assert [f.has_password for f in forms] == [False, True, False]
    assert choose_approve(forms[2]).value == "allow"


def test_jar_keeps_cookies_per_path_and_sends_only_matching_ones():
    """RFC 6265 §5.1.4 and §5.4: a cookie is sent to the paths it path-matches, the longest path first; two
    interactions' cookies of the same name and different paths do not overwrite each other."""
    jar = OriginJar("http://127.0.0.1:5000/auth")
    jar.store("http://127.0.0.1:5000/auth", ["_i=A; Path=/interaction/A", "_i=B; Path=/interaction/B",
                                              "sid=S; Path=/"])
    assert jar.header("http://127.0.0.1:5000/interaction/A/login") == "_i=A; sid=S"
    assert jar.header("http://127.0.0.1:5000/interaction/B") == "_i=B; sid=S"
    assert jar.header("http://127.0.0.1:5000/interactionX") == "sid=S"


def test_cross_site_post_carries_no_lax_or_strict_cookies():
    """RFC 6265bis §5.4.7 (SameSite): a cross-site request never carries a Strict cookie, and a Lax cookie
    only on a top-level GET navigation; a cookie without SameSite is sent (the attacker's best case)."""
    jar = OriginJar("http://127.0.0.1:5000/")
    jar.store("http://127.0.0.1:5000/", ["lax=1; SameSite=Lax", "strict=2; SameSite=Strict", "plain=3"])
    assert jar.header("http://127.0.0.1:5000/login", method="POST") == "lax=1; strict=2; plain=3"
    assert jar.header("http://127.0.0.1:5000/login", cross_site=True, method="POST") == "plain=3"
    assert jar.header("http://127.0.0.1:5000/login", cross_site=True, method="GET") == "lax=1; plain=3"


def interaction_app() -> web.Application:
    """An AS that, like node oidc-provider, keeps the interaction in one cookie name for every interaction
    and needs the login POST to come with the interaction's own cookie (no session is kept)."""
    import secrets as _secrets

    async def authorize(request):
        uid = _secrets.token_hex(4)
        resp = web.Response(text=LOGIN_PAGE.replace("tok&amp;123", uid), content_type="text/html")
        resp.set_cookie("interaction", uid, path="/")
        return resp

    async def login(request):
        form = dict(parse_qsl((await request.read()).decode()))
        await asyncio.sleep(0.02)          # let the concurrent walks interleave
        if request.cookies.get("interaction") != form.get("csrf"):
            return web.Response(status=400, text="interaction lost")
        return web.Response(status=303, headers={"Location": f"{CALLBACK}?code={form['csrf']}"})

    app = web.Application()
    app.router.add_get("/oauth/authorize", authorize)
    app.router.add_post("/session/new", login)
    return app


async def test_concurrent_flows_never_clobber_each_others_interaction(aiohttp_server):
    """One cookie jar per flow: ten flows walking at once each finish their own interaction."""
    server = await aiohttp_server(interaction_app(), host="127.0.0.1")
    start = str(server.make_url("/oauth/authorize"))
    async with new_session() as session:
        walks = await asyncio.gather(*(drive(session, start, credentials=CREDS, jar=OriginJar(start),
                                             stop_uris=[CALLBACK]) for _ in range(10)))
    assert all(w.code for w in walks), [w.final.body for w in walks if not w.code]
    assert len({w.code for w in walks}) == 10


async def test_a_request_that_got_no_answer_is_sent_once_more(aiohttp_server):
    """A keep-alive connection the server closed is not the target's error: the request that got no answer
    (the connection dropped before any response) is sent again, once; a timeout or a second drop is what the
    target did and is reported."""
    calls = []

    def sender(*errors):
        async def send():
            error = errors[len(calls)] if len(calls) < len(errors) else None
            calls.append(error)
            obs = Observation("x", "GET", "http://t/", {}, None, None if error else 200, {}, "", error=error)
            return obs, ""
        return send
    obs, _ = await resend_once(sender("ServerDisconnectedError: Server disconnected"))
    assert obs.status == 200 and len(calls) == 2
    calls.clear()
    obs, _ = await resend_once(sender("ServerDisconnectedError: x", "ClientOSError: reset"))
    assert obs.status is None and len(calls) == 2
    calls.clear()
    obs, _ = await resend_once(sender("TimeoutError: "))
    assert obs.status is None and len(calls) == 1

    seen = []

    async def flaky(request):
        seen.append(request.path)
        if len(seen) == 1:
            request.transport.close()      # drop the connection without an answer
            await asyncio.sleep(0.01)
        return web.Response(text="<html><body>ok</body></html>", content_type="text/html")
    app = web.Application()
    app.router.add_get("/page", flaky)
    server = await aiohttp_server(app, host="127.0.0.1")
    url = str(server.make_url("/page"))
    async with new_session() as session:
        obs, _ = await fetch(session, "GET", url, jar=OriginJar(url), label="page")
    assert obs.status == 200 and len(seen) == 2
