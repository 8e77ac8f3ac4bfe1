"""Code flow and redirect URI (catalog §7; RFC 6749 §3.1, §3.1.2, §4.1.2, §4.1.2.1, §10.6, §10.12; RFC 9700
§2.1, §4.1.3, §4.12; RFC 9207): the authorization endpoint redirects only to an exactly registered URI,
echoes ``state`` byte for byte, sends request errors back to the client, refuses repeated parameters,
protects its forms against CSRF and never answers the credential POST with a 307.
"""
from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from harness.aschecks import (ABSENT, ANY, any_of, by_label, expect_code, expect_error_redirect, expect_facts,
                              expect_no_code, expect_no_redirect, expect_redirect_status, expect_refused, analysis,
                              location_params)
from harness.askit import NotApplicable, Pkce, SetupFailed
from harness.scenario import Scenario, deviation

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
        ("scheme changed", urlunsplit((other_scheme, p.netloc, path, p.query, ""))),
    ] + ([] if is_loopback(host) else [   # RFC 8252 §7.3: any port MAY be accepted on a loopback redirect URI
        ("port changed", urlunsplit((p.scheme, f"{host}:{other_port}", path, p.query, "")))])


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
    """A cross-site POST of the login (and consent) form without the CSRF token, from another Origin, with
    only the cookies a browser attaches to a cross-site POST (no SameSite=Lax or Strict ones)."""
    authz = await kit.authorize(label="login and consent posted cross-site without their CSRF token",
                                fresh=True, drop_csrf=True, cross_site=True, headers={"Origin": f"https://{ATTACKER}"})
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
        return [deviation("the response has no iss although the metadata advertises it", "MUST", ISS)]
    if facts["iss"] != facts["issuer"]:
        return [deviation(f"iss {facts['iss']!r} differs from the issuer {facts['issuer']!r}", "MUST", ISS)]
    return []


# The sentences the expectations rest on.
EXACT_MATCH = ('RFC 9700 §2.1: "When comparing client redirection URIs against pre-registered URIs, authorization '
               'servers MUST utilize exact string matching except for port numbers in localhost redirection URIs of '
               'native apps"; RFC 6749 §4.1.2.1: the AS "MUST NOT automatically redirect the user-agent to the '
               'invalid redirection URI."')
NO_HTTP = ('RFC 9700 §2.6: "authorization servers MUST NOT allow redirect URIs that use the "http" scheme except for '
           'native clients that use Loopback Interface Redirection"')
NO_FRAGMENT = 'RFC 6749 §3.1.2: "The endpoint URI MUST NOT include a fragment component."'
STATE = ('RFC 6749 §4.1.2: "state REQUIRED if the "state" parameter was present in the client authorization '
         'request. The exact value received from the client."')
STATE_OPTIONAL = 'RFC 6749 §4.1.1: "state RECOMMENDED." (a request without it is valid)'
ERRORS_TO_CLIENT = ('RFC 6749 §4.1.2.1: "If the resource owner denies the access request or if the request fails for '
                    'reasons other than a missing or invalid redirection URI, the authorization server informs the '
                    'client by adding the following parameters to the query component of the redirection URI"')
SCOPE_MAY_IGNORE = ('RFC 6749 §3.3: "The authorization server MAY fully or partially ignore the scope requested by '
                    'the client"; §4.1.2.1: "invalid_scope: The requested scope is invalid, unknown, or malformed.", '
                    'and "access_denied: The resource owner or authorization server denied the request." (nothing '
                    'grantable is left)')
ONCE = ('RFC 6749 §3.1: "Request and response parameters MUST NOT be included more than once." (binds the sender, '
        'here the client); §4.1.2.1 names the answer, "invalid_request: The request ... includes a parameter more '
        'than once": informational, unless the repeat sends the code elsewhere')
IGNORE_UNKNOWN = 'RFC 6749 §3.1: "The authorization server MUST ignore unrecognized request parameters."'
CSRF = ('RFC 6749 §10.12: "The authorization server MUST implement CSRF protection for its authorization endpoint and '
        'ensure that a malicious client cannot obtain authorization without the awareness and explicit consent of '
        'the resource owner."')
ISS = ('RFC 9207 §2: "Authorization servers supporting this specification MUST provide their issuer identifier to '
       'clients in the authorization response"; the value "MUST" be the issuer of the metadata')


SCENARIOS: list[Scenario] = [
    Scenario("redir-unregistered", "An unregistered redirect_uri gets an error page (or an error redirect to the "
             "registered URI), never a redirect to it.", ("RFC 6749 §4.1.2.1", "RFC 6749 §10.6", "RFC 9700 §2.1"), AS,
             "critical", set_redirect_uri_unregistered, expect_no_redirect(), CODE_FLOW, FAMILY),
    Scenario("redir-query-added", "The registered redirect_uri with a query added is not accepted.",
             ("RFC 9700 §2.1", "RFC 9700 §4.1.3"), AS, "high", add_redirect_uri_query, expect_no_redirect(EXACT_MATCH),
             CODE_FLOW, FAMILY),
    Scenario("redir-query-mismatch", "A changed query in a registered redirect_uri is not accepted; the exact "
             "one works.", ("RFC 6749 §3.1.2", "RFC 9700 §4.1.3"), AS, "high", change_redirect_uri_query,
             by_label(expect_no_redirect(EXACT_MATCH), control=expect_code(rule=EXACT_MATCH)),
             CODE_FLOW | {"redirect_uri_query"}, FAMILY),
    Scenario("redir-lookalike", "Path, traversal, userinfo, host-suffix, slash, case, port and scheme variants of "
             "the registered redirect_uri are all refused (exact string match; any port on a loopback host).",
             ("RFC 9700 §2.1", "RFC 8252 §7.3", "CVE-2019-11269", "CVE-2024-8883"), AS, "critical",
             set_redirect_uri_lookalike, expect_no_redirect(EXACT_MATCH), CODE_FLOW, FAMILY),
    Scenario("redir-http-non-loopback", "A plain-http redirect_uri on a non-loopback host is refused.",
             ("RFC 9700 §2.6",), AS, "medium", set_redirect_uri_plain_http, expect_no_redirect(NO_HTTP), CODE_FLOW,
             FAMILY),
    Scenario("redir-fragment", "A redirect_uri with a fragment is refused.", ("RFC 6749 §3.1.2",), AS, "medium",
             add_redirect_uri_fragment, expect_no_redirect(NO_FRAGMENT), CODE_FLOW, FAMILY),
    Scenario("authz-state-echo", "state comes back byte for byte with the code.", ("RFC 6749 §4.1.2",), AS, "high",
             echo_state, by_label(expect_code(state=STATE43, rule=STATE),
                                  special=expect_code(state=STATE_SPECIAL, rule=STATE)), CODE_FLOW,
             FAMILY, control=True),
    Scenario("authz-state-absent", "Without state the request succeeds.", ("RFC 6749 §4.1.1",), AS, "low", drop_state,
             expect_code(state=ABSENT, rule=STATE_OPTIONAL, keyword="SHOULD"), CODE_FLOW, FAMILY),
    Scenario("authz-state-long", "A 2 KB state is echoed exactly or refused with an error sent to the client.",
             ("RFC 6749 §4.1.2",), AS, "low", lengthen_state,
             any_of(expect_code(state=STATE_LONG, rule=STATE), expect_error_redirect(state=ANY, rule=ERRORS_TO_CLIENT)),
             CODE_FLOW, FAMILY),
    Scenario("authz-error-redirect", "Request errors go back to the client with the RFC error code and state; an "
             "unknown scope may be ignored.", ("RFC 6749 §4.1.2.1", "RFC 6749 §3.3"), AS, "low",
             break_authorization_request,
             by_label(expect_error_redirect("unsupported_response_type", "unauthorized_client", state=S_ERR,
                                            rule=ERRORS_TO_CLIENT),
                      missing=expect_refused("invalid_request", "unsupported_response_type", state=S_ERR,
                                             rule=ERRORS_TO_CLIENT),
                      scope=any_of(expect_code(), expect_error_redirect("invalid_scope", "access_denied", state=S_ERR,
                                                                        rule=SCOPE_MAY_IGNORE))), CODE_FLOW, FAMILY),
    Scenario("authz-duplicate-param", "Repeated authorization parameters are refused (an error page, or an error "
             "redirect to the registered redirect_uri; never the attacker's).", ("RFC 6749 §3.1",), AS, "medium",
             repeat_authorization_params,
             by_label(any_of(expect_no_redirect(), expect_error_redirect("invalid_request", state=ANY, rule=ONCE,
                                                                         issued="deviation")),
                      redirect_uri=expect_no_redirect()), CODE_FLOW, FAMILY),
    Scenario("authz-unknown-param", "An unknown authorization parameter is ignored.", ("RFC 6749 §3.1",), AS, "low",
             add_unknown_param, expect_code(rule=IGNORE_UNKNOWN), CODE_FLOW, FAMILY),
    Scenario("authz-csrf-consent", "Login and consent posts from another site, without the AS's CSRF token and with "
             "only the cookies a browser sends cross-site, grant nothing.", ("RFC 6749 §10.12",), AS, "high",
             forge_login_post, expect_no_code(CSRF), CODE_FLOW, FAMILY),
    Scenario("authz-no-307", "The credential POST is never answered with 307 (or 308).", ("RFC 9700 §4.12",), AS,
             "medium", post_login_form, expect_redirect_status(), CODE_FLOW, FAMILY),
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
