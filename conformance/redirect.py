"""Code flow and redirect URI (catalog §7; RFC 6749 §3.1, §3.1.2, §4.1.2, §4.1.2.1, §10.6, §10.12; RFC 9700
§2.1, §4.1.3, §4.12; RFC 9207): the authorization endpoint redirects only to an exactly registered URI,
echoes ``state`` byte for byte, sends request errors back to the client, refuses repeated parameters,
protects its forms against CSRF and never answers the credential POST with a 307.
"""
from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from harness.aschecks import (ABSENT, ANY, any_of, by_label, expect_code, expect_error_redirect, expect_facts,
                              expect_no_redirect, expect_redirect_status, expect_refused, analysis, location_params)
from harness.askit import NotApplicable, Pkce, SetupFailed
from harness.scenario import Observation, Scenario

FAMILY = "redirect"
AS = "authorization-server"
CODE_FLOW = frozenset({"authorization_code"})
ATTACKER = "attacker.example"

STATE43 = "Xq3~vT9.kL2_mN8-pR4sW6yZ1aB5cD7eF0gH2jK4lM6"        # 43 characters, every unreserved class
STATE_SPECIAL = "a b+c%2F&d=e/f?g#h\"i'j<k>l\u00e9m"             # must survive URL encoding both ways
STATE_LONG = ("L0ng-" + STATE43) * 43                             # 2,064 characters
S_ERR = "err-redirect-4Tz"
S_DUP = "dup-param-8Rw"


# -- helpers --------------------------------------------------------------------------------------------------
def lookalikes(registered: str) -> list[tuple[str, str]]:
    """Redirect URIs that a prefix, host or normalising comparison would confuse with ``registered``."""
    p = urlsplit(registered)
    host, port = p.hostname or "", p.port
    hostport = f"{host}:{port}" if port else host
    path = p.path or "/"
    base = registered.split("#", 1)[0]
    other_scheme = "https" if p.scheme == "http" else "http"
    other_port = (port or (443 if p.scheme == "https" else 80)) + 1
    trailing = base[:-1] if path.endswith("/") and len(path) > 1 else base.split("?", 1)[0] + "/"
    return [
        ("path suffix /x", _join(base, "/x")),
        ("characters appended", base + ".evil"),
        ("path traversal /../x", _join(base, "/../x")),
        ("path traversal /..;/x", _join(base, "/..;/x")),
        ("encoded traversal /%2e%2e/x", _join(base, "/%2e%2e/x")),
        ("userinfo: registered host@attacker", urlunsplit((p.scheme, f"{hostport}@{ATTACKER}", path, p.query, ""))),
        ("several @ in userinfo", urlunsplit((p.scheme, f"{hostport}@x@{ATTACKER}", path, p.query, ""))),
        ("host suffix", urlunsplit((p.scheme, f"{host}.{ATTACKER}" + (f":{port}" if port else ""), path, p.query,
                                    ""))),
        ("trailing slash changed", trailing),
        ("path case changed", urlunsplit((p.scheme, p.netloc, _swapcase_path(path), p.query, ""))),
        ("port changed", urlunsplit((p.scheme, f"{host}:{other_port}", path, p.query, ""))),
        ("scheme changed", urlunsplit((other_scheme, p.netloc, path, p.query, ""))),
    ]


def _join(base: str, suffix: str) -> str:
    if "?" in base:
        path, query = base.split("?", 1)
        return f"{path.rstrip('/')}{suffix}?{query}"
    return base.rstrip("/") + suffix


def _swapcase_path(path: str) -> str:
    swapped = path.swapcase()
    return swapped if swapped != path else path + "X"


def is_loopback(host: str | None) -> bool:
    return (host or "").lower() in ("localhost", "127.0.0.1", "::1", "[::1]") or (host or "").startswith("127.")


# -- mutations ------------------------------------------------------------------------------------------------
async def set_redirect_uri_unregistered(kit):
    authz = await kit.authorize(label=f"redirect_uri=https://{ATTACKER}/cb", redirect_uri=f"https://{ATTACKER}/cb")
    return [authz.observation]


async def add_redirect_uri_query(kit):
    uri = kit.redirect_uri + ("&" if "?" in kit.redirect_uri else "?") + "foo=bar"
    return [(await kit.authorize(label=f"redirect_uri={uri}", redirect_uri=uri)).observation]


async def change_redirect_uri_query(kit):
    base, query = kit.redirect_uri.split("?", 1)
    changed = f"{base}?{query}x"
    bad = await kit.authorize(label=f"redirect_uri with the query changed ({changed})", redirect_uri=changed)
    ok = await kit.authorize(label="control: the exact registered redirect_uri")
    return [bad.observation, ok.observation]


async def set_redirect_uri_lookalike(kit):
    out = []
    for label, uri in lookalikes(kit.redirect_uri):
        authz = await kit.authorize(label=f"{label}: {uri}", redirect_uri=uri)
        out.append(authz.observation)
    return out


async def set_redirect_uri_plain_http(kit):
    p = urlsplit(kit.redirect_uri)
    uri = urlunsplit(("http", "client.example", p.path or "/", p.query, ""))
    out = [(await kit.authorize(label=f"redirect_uri={uri}", redirect_uri=uri)).observation]
    if p.scheme == "http" and not is_loopback(p.hostname):
        authz = await kit.authorize(label=f"the registered redirect_uri is http on a non-loopback host "
                                          f"({kit.redirect_uri})")
        out.append(authz.observation)
    return out


async def add_redirect_uri_fragment(kit):
    uri = kit.redirect_uri.split("#", 1)[0] + "#frag"
    return [(await kit.authorize(label=f"redirect_uri={uri}", redirect_uri=uri)).observation]


async def echo_state(kit):
    a = await kit.authorize(label="43-character state", state=STATE43)
    b = await kit.authorize(label="special: a state with reserved and non-ASCII characters", state=STATE_SPECIAL)
    return [a.observation, b.observation]


async def drop_state(kit):
    return [(await kit.authorize(label="no state", state=None)).observation]


async def lengthen_state(kit):
    return [(await kit.authorize(label=f"a {len(STATE_LONG)}-character state", state=STATE_LONG)).observation]


async def break_authorization_request(kit):
    a = await kit.authorize(label="missing: no response_type", state=S_ERR, overrides={"response_type": None})
    b = await kit.authorize(label="response_type=token", state=S_ERR, overrides={"response_type": "token"})
    c = await kit.authorize(label="scope: scope=oauthlab-unknown-scope", state=S_ERR,
                            scope="oauthlab-unknown-scope")
    return [a.observation, b.observation, c.observation]


async def repeat_authorization_params(kit):
    out = []
    a = await kit.authorize(label="client_id twice", state=S_DUP, extra=[("client_id", kit.client_id)])
    out.append(a.observation)
    b = await kit.authorize(label="state twice", state=S_DUP, extra=[("state", "other-state")])
    out.append(b.observation)
    c = await kit.authorize(label="code_challenge twice", state=S_DUP, extra=[("code_challenge", Pkce.new().challenge)])
    out.append(c.observation)
    d = await kit.authorize(label="redirect_uri: the registered one, then an attacker's", state=S_DUP,
                            extra=[("redirect_uri", f"https://{ATTACKER}/cb")])
    out.append(d.observation)
    return out


async def add_unknown_param(kit):
    authz = await kit.authorize(label="an unknown parameter oauthlab_probe=1", extra=[("oauthlab_probe", "1")])
    return [authz.observation]


async def forge_login_post(kit):
    """A cross-site POST of the login (and consent) form without the CSRF token, from another Origin."""
    authz = await kit.authorize(label="login and consent posted without their CSRF token, Origin: attacker",
                                fresh=True, drop_csrf=True, headers={"Origin": f"https://{ATTACKER}"})
    if authz.walk.login_post is None and not authz.walk.consent_posts:
        raise SetupFailed("no login or consent form was shown to a new browser", authz.observation)
    return [authz.observation]


async def post_login_form(kit):
    authz = await kit.authorize(label="login form POST", fresh=True)
    post = authz.walk.login_post
    if post is None:
        raise SetupFailed("no login form was shown to a new browser", authz.observation)
    return [post]


async def check_iss_param(kit):
    if kit.metadata.get("authorization_response_iss_parameter_supported") is not True:
        raise NotApplicable("the metadata does not advertise authorization_response_iss_parameter_supported")
    authz = await kit.authorize(label="authorization response")
    authz.require_code()
    params = location_params(authz.observation) or {}
    return [analysis("iss parameter", {"iss": params.get("iss"), "issuer": kit.issuer}, authz.observation)]


def _iss_rule(facts: dict) -> list[str]:
    if facts.get("iss") is None:
        return ["the response has no iss although the metadata advertises it (RFC 9207 §2)"]
    if facts["iss"] != facts["issuer"]:
        return [f"iss {facts['iss']!r} differs from the issuer {facts['issuer']!r}"]
    return []


def expect_no_code() -> "callable":
    """No code reached the client (an error page, a refusal, or a redirect with an error)."""
    def check(obs: Observation) -> list[str]:
        params = location_params(obs)
        if obs.status is None:
            return [f"no response ({obs.error})"]
        if obs.status >= 500:
            return [f"server error {obs.status}"]
        if params is not None and params.get("code"):
            return ["a code was issued to the forged request"]
        return []
    return check


SCENARIOS: list[Scenario] = [
    Scenario("redir-unregistered", "An unregistered redirect_uri gets an error page, never a redirect.",
             ("RFC 6749 §4.1.2.1", "RFC 6749 §10.6", "RFC 9700 §2.1"), AS, "critical", set_redirect_uri_unregistered,
             expect_no_redirect(), CODE_FLOW, FAMILY),
    Scenario("redir-query-added", "The registered redirect_uri with a query added is not accepted.",
             ("RFC 9700 §4.1.3",), AS, "high", add_redirect_uri_query, expect_no_redirect(), CODE_FLOW, FAMILY),
    Scenario("redir-query-mismatch", "A changed query in a registered redirect_uri is not accepted; the exact "
             "one works.", ("RFC 6749 §3.1.2", "RFC 9700 §4.1.3"), AS, "high", change_redirect_uri_query,
             by_label(expect_no_redirect(), control=expect_code()), CODE_FLOW | {"redirect_uri_query"}, FAMILY),
    Scenario("redir-lookalike", "Path, traversal, userinfo, host-suffix, slash, case, port and scheme variants of "
             "the registered redirect_uri are all refused (exact string match).",
             ("RFC 9700 §4.1.3", "CVE-2019-11269", "CVE-2024-8883"), AS, "critical", set_redirect_uri_lookalike,
             expect_no_redirect(), CODE_FLOW, FAMILY),
    Scenario("redir-http-non-loopback", "A plain-http redirect_uri on a non-loopback host is refused.",
             ("RFC 9700 §2.6",), AS, "medium", set_redirect_uri_plain_http, expect_no_redirect(), CODE_FLOW, FAMILY),
    Scenario("redir-fragment", "A redirect_uri with a fragment is refused.", ("RFC 6749 §3.1.2",), AS, "medium",
             add_redirect_uri_fragment, expect_no_redirect(), CODE_FLOW, FAMILY),
    Scenario("authz-state-echo", "state comes back byte for byte with the code.", ("RFC 6749 §4.1.2",), AS, "high",
             echo_state, by_label(expect_code(state=STATE43), special=expect_code(state=STATE_SPECIAL)), CODE_FLOW,
             FAMILY, control=True),
    Scenario("authz-state-absent", "Without state the request succeeds and no state is invented.",
             ("RFC 6749 §4.1.2",), AS, "low", drop_state, expect_code(state=ABSENT), CODE_FLOW, FAMILY),
    Scenario("authz-state-long", "A 2 KB state is echoed exactly or refused with invalid_request.",
             ("RFC 6749 §4.1.2",), AS, "low", lengthen_state,
             any_of(expect_code(state=STATE_LONG), expect_error_redirect("invalid_request", state=ANY)),
             CODE_FLOW, FAMILY),
    Scenario("authz-error-redirect", "Request errors go back to the client with the RFC error code and state.",
             ("RFC 6749 §4.1.2.1",), AS, "low", break_authorization_request,
             by_label(expect_error_redirect("unsupported_response_type", state=S_ERR),
                      missing=expect_refused("invalid_request", "unsupported_response_type", state=S_ERR),
                      scope=expect_error_redirect("invalid_scope", state=S_ERR)), CODE_FLOW, FAMILY),
    Scenario("authz-duplicate-param", "Repeated authorization parameters are refused (never the attacker's "
             "redirect_uri).", ("RFC 6749 §3.1",), AS, "medium", repeat_authorization_params,
             by_label(expect_refused("invalid_request", state=ANY), redirect_uri=expect_no_redirect()), CODE_FLOW,
             FAMILY),
    Scenario("authz-unknown-param", "An unknown authorization parameter is ignored.", ("RFC 6749 §3.1",), AS, "low",
             add_unknown_param, expect_code(), CODE_FLOW, FAMILY),
    Scenario("authz-csrf-consent", "Login and consent posts without the AS's CSRF token, from another origin, "
             "grant nothing.", ("RFC 6749 §10.12",), AS, "high", forge_login_post, expect_no_code(), CODE_FLOW, FAMILY),
    Scenario("authz-no-307", "The credential POST is answered with 302/303, never 307/308.", ("RFC 9700 §4.12",), AS,
             "medium", post_login_form, expect_redirect_status(302, 303), CODE_FLOW, FAMILY),
    Scenario("authz-iss-param", "When advertised, the authorization response carries iss = the issuer.",
             ("RFC 9207 §2", "RFC 9700 §2.1"), AS, "medium", check_iss_param, expect_facts(_iss_rule), CODE_FLOW,
             FAMILY),
]

NOT_APPLICABLE: dict[str, str] = {
    "redir-missing": "needs a client with two registered redirect URIs; a profile names one redirect_uri, and a "
                     "client with one registered URI MAY omit it (RFC 6749 §3.1.2.3)",
    "redir-loopback-port": "needs a native client registered with a loopback redirect URI (RFC 8252 §7.3); "
                           "profiles describe one web client (the host tricks are in redir-lookalike)",
}
