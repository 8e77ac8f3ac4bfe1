"""PKCE (catalog §6; RFC 7636, RFC 9700 §2.1.1 and §4.8): the authorization server binds each code to a
S256 challenge and redeems it only with the matching, well-formed verifier.

The bad-verifier family is one of the five scenarios that define the product, so it is thorough: no
verifier, a wrong one (random; the challenge itself; one character changed; truncated; extended; case
flipped), the verifier of another flow, malformed lengths and characters, a verifier where no challenge
was sent (downgrade), and the method games (plain, no method, unknown method, malformed challenge).
"""
from __future__ import annotations

from harness.aschecks import (AuthzObservation, by_label, expect_error, expect_error_redirect,
                              expect_no_code, expect_token, location_params)
from harness.askit import RFC7636_PAIR, Pkce, new_verifier, s256
from harness.scenario import Check, Observation, Scenario, deviation

FAMILY = "pkce"
AS = "authorization-server"
CODE_FLOW = frozenset({"authorization_code"})

S_PLAIN = "pkce-plain-7Hq2"
S_REQUIRED = "pkce-required-Jm4x"
S_UNKNOWN = "pkce-unknown-Qs8c"
S_CHALLENGE = "pkce-challenge-Vb3n"


# -- mutations ------------------------------------------------------------------------------------------------
async def redeem_known_answer_pair(kit):
    """The RFC 7636 Appendix B challenge at authorize, its verifier at the token endpoint."""
    authz = await kit.authorize(label="authorize with the RFC 7636 Appendix B challenge", pkce=RFC7636_PAIR)
    if not authz.code:
        return [authz.observation]
    return [await kit.redeem(authz, label="token with the RFC 7636 Appendix B verifier")]


async def drop_code_verifier(kit):
    authz = await kit.authorize(label="authorize (S256)")
    authz.require_code()
    return [await kit.redeem(authz, verifier=None, label="token without code_verifier")]


def wrong_verifiers(good: str, challenge: str) -> list[tuple[str, str]]:
    """Well-formed verifiers that are not the one the challenge was made from."""
    flipped = good[:-1] + ("A" if good[-1] != "A" else "B")
    return [("a random verifier", new_verifier(64)),
            ("the code_challenge itself as verifier", challenge),
            ("the verifier with its last character changed", flipped),
            ("the verifier truncated to 43 characters", good[:43]),
            ("the verifier with one character appended", good + "A"),
            ("the verifier with its case inverted", good.swapcase())]


async def swap_code_verifier(kit):
    """One flow per wrong verifier (a refused redemption may burn the code)."""
    out = []
    for label, _ in wrong_verifiers(new_verifier(64), "x" * 43):
        authz = await kit.authorize(label=f"authorize for: {label}")
        authz.require_code()
        good = authz.pkce.verifier
        wrong = dict(wrong_verifiers(good, authz.pkce.challenge))[label]
        out.append(await kit.redeem(authz, verifier=wrong, label=f"token with {label}"))
    return out


async def cross_code_verifier(kit):
    """Flow A and flow B by the same client; B's code redeemed with A's verifier."""
    a = await kit.authorize(label="authorize flow A")
    a.require_code()
    b = await kit.authorize(label="authorize flow B")
    b.require_code()
    return [await kit.redeem(b, verifier=a.pkce.verifier, label="token: code of flow B with the verifier of flow A")]


async def send_verifier_without_challenge(kit):
    """RFC 9700 §4.8.2: no challenge at authorize, a verifier at the token endpoint."""
    authz = await kit.authorize(label="authorize without code_challenge", pkce=None)
    if not authz.code:
        return [authz.observation]  # refused at authorize: the downgrade cannot start
    return [await kit.redeem(authz, verifier=new_verifier(64), label="token with a code_verifier, no challenge sent")]


async def drop_code_challenge(kit):
    """No challenge at authorize; if a code comes back anyway, is PKCE required at the token endpoint?"""
    authz = await kit.authorize(label="authorize without code_challenge", pkce=None, state=S_REQUIRED)
    if not authz.code:
        return [authz.observation]
    return [authz.observation, await kit.redeem(authz, label="redeem: the code, without code_verifier")]


async def set_method_plain(kit):
    v = new_verifier(64)
    authz = await kit.authorize(label="authorize with code_challenge_method=plain", state=S_PLAIN,
                                pkce=Pkce(v, v, "plain"))
    return [authz.observation]


async def drop_challenge_method(kit):
    """challenge = S256(v) without a method: the method defaults to plain (RFC 7636 §4.3), so v must fail."""
    pair = Pkce.new()
    authz = await kit.authorize(label="authorize: S256 challenge, no code_challenge_method",
                                pkce=Pkce(pair.verifier, pair.challenge, None))
    if not authz.code:
        return [authz.observation]
    return [await kit.redeem(authz, verifier=pair.verifier, label="token with the verifier (method defaulted)")]


async def set_unknown_method(kit):
    """S512, s256 (methods are case-sensitive), SHA256. An EMPTY method is "omitted" (RFC 6749 §3.1), which
    is pkce-method-default-plain's case, not this one."""
    out = []
    for method in ("S512", "s256", "SHA256"):
        pair = Pkce.new()
        authz = await kit.authorize(label=f"authorize with code_challenge_method={method!r}", state=S_UNKNOWN,
                                    pkce=Pkce(pair.verifier, pair.challenge, method))
        out.append(authz.observation)
    return out


MALFORMED_VERIFIERS = (
    ("42 characters", lambda: new_verifier(42)),
    ("129 characters", lambda: new_verifier(129)),
    ("a '+'", lambda: new_verifier(30) + "+" + new_verifier(30)),
    ("a '/'", lambda: new_verifier(30) + "/" + new_verifier(30)),
    ("a '='", lambda: new_verifier(60) + "="),
    ("a space", lambda: new_verifier(30) + " " + new_verifier(30)),
    ("a non-ASCII letter", lambda: new_verifier(30) + "\u00e9" + new_verifier(30)),
)


async def malform_code_verifier(kit):
    """Each malformed verifier with ITS OWN S256 challenge, so only the syntax can make it fail; then the
    43- and 128-character boundaries must work (controls)."""
    out = []
    for label, make in MALFORMED_VERIFIERS:
        v = make()
        authz = await kit.authorize(label=f"authorize for a verifier with {label}", pkce=Pkce(v, s256(v)))
        if not authz.code:
            out.append(authz.observation)  # refused at authorize? the challenge itself is well-formed: judged
            continue
        out.append(await kit.redeem(authz, label=f"token with a verifier of {label}"))
    for n in (43, 128):
        authz = await kit.authorize(label=f"control: authorize for a {n}-character verifier", pkce=Pkce.new(n))
        authz.require_code()
        out.append(await kit.redeem(authz, label=f"control: token with a {n}-character verifier"))
    return out


async def malform_code_challenge(kit):
    good = Pkce.new()
    challenges = (("42 characters", good.challenge[:42]),
                  ("a '+'", good.challenge[:20] + "+" + good.challenge[21:]),
                  ("a '=' (padded)", good.challenge + "="),
                  ("129 characters", new_verifier(129)))
    out = []
    for label, challenge in challenges:
        authz = await kit.authorize(label=f"authorize with a code_challenge of {label}", state=S_CHALLENGE,
                                    pkce=Pkce(good.verifier, challenge, "S256"))
        out.append(authz.observation)
    return out


async def fetch_metadata(kit):
    from harness.client import send
    obs = await send(kit.session, "GET", kit.metadata_observation.url, label="metadata",
                     headers={"Accept": "application/json"})
    return [obs]


def _metadata_rule(obs) -> list[str]:
    meta = obs.json if isinstance(obs.json, dict) else {}
    if obs.status != 200:
        return [deviation(f"metadata answered {obs.status}", "MUST", DETECT)]
    methods = meta.get("code_challenge_methods_supported")
    if not isinstance(methods, list):
        return [deviation("no code_challenge_methods_supported: clients cannot detect PKCE support", "SHOULD", DETECT)]
    if "S256" not in methods:
        return [deviation(f"code_challenge_methods_supported {methods!r} lacks S256", "MUST", S256_MTI)]
    return []


# The sentences the expectations rest on.
VERIFY = ('RFC 7636 §4.6: "If the values are equal, the token endpoint MUST continue processing as normal (as defined '
          'by OAuth 2.0 [RFC6749]). If the values are not equal, an error response indicating "invalid_grant" as '
          'described in Section 4.1.2 MUST be returned."')
VERIFIER_MISSING = VERIFY + ' (a missing code_verifier is also a missing parameter: invalid_request fits)'
DOWNGRADE = ('RFC 9700 §2.1.1: "Authorization servers MUST mitigate PKCE Downgrade Attacks by ensuring that a token '
             'request containing a code_verifier parameter is accepted only if a code_challenge parameter was present '
             'in the authorization request"')
REQUIRED = ('RFC 7636 §4.4.1: "If the server requires Proof Key for Code Exchange (PKCE) by OAuth public clients and '
            'the client does not send the "code_challenge" in the request, the authorization endpoint MUST return the '
            'authorization error response with the "error" value set to "invalid_request"."')
PUBLIC_MUST = ('RFC 9700 §2.1.1: "public clients MUST use PKCE" (a rule on the client: an AS that does not require '
               'it is informational)')
PLAIN = ('RFC 9700 §2.1.1: "Clients SHOULD use PKCE code challenge methods that do not expose the PKCE verifier in '
         'the authorization request ... Currently, S256 is the only such method." (a rule on the client: an AS that '
         'accepts plain is informational)')
DEFAULT_PLAIN = ('RFC 7636 §4.3: "code_challenge_method OPTIONAL, defaults to "plain" if not present in the '
                 'request."')
UNKNOWN_METHOD = ('RFC 7636 §4.4.1: "If the server supporting PKCE does not support the requested transformation, the '
                  'authorization endpoint MUST return the authorization error response with "error" value set to '
                  '"invalid_request"."')
VERIFIER_ABNF = ('RFC 7636 §4.1: "code-verifier = 43*128unreserved" (the client\'s duty: an AS that accepts other '
                 'verifiers is informational)')
CHALLENGE_ABNF = ('RFC 7636 §4.2: "code-challenge = 43*128unreserved" (the client\'s duty: an AS that accepts other '
                  'challenges is informational)')
DETECT = ('RFC 9700 §2.1.1: "Authorization servers MUST provide a way to detect their support for PKCE. It is '
          'RECOMMENDED for authorization servers to publish the element code_challenge_methods_supported in their '
          'Authorization Server Metadata"')
S256_MTI = 'RFC 7636 §4.2: "If the server supports PKCE, "S256" is Mandatory To Implement (MTI) on the server."'


def refused_anywhere(*token_errors: str, rule: str, issued: str = "vulnerability", keyword: str = "MUST") -> Check:
    """Refused at the authorization endpoint (no code: any refusal) or at the token endpoint (one of
    ``token_errors``; a token is a vulnerability, or a deviation with ``issued="deviation"`` or a SHOULD)."""
    at_token = expect_error(400, *token_errors, rule=rule, issued=issued, keyword=keyword)
    at_authorize = expect_no_code(rule)

    def check(obs: Observation) -> list[str]:
        return at_authorize(obs) if isinstance(obs, AuthzObservation) else at_token(obs)
    return check


def refused_at_authorize(*errors: str, state: str, rule: str) -> Check:
    """The authorization request is refused with an error redirect (``errors``, ``state``); a code or any other
    refusal is a deviation from ``rule`` (no attack: the challenge is what is wrong, not the client)."""
    return expect_error_redirect(*errors, state=state, rule=rule, issued="deviation")


def expect_required_at_authorize(obs: Observation) -> list[str]:
    """A code without a challenge is judged by its redemption; otherwise the refusal must be RFC 7636 §4.4.1's."""
    params = location_params(obs)
    if params is not None and params.get("code"):
        return []
    return expect_error_redirect("invalid_request", state=S_REQUIRED, rule=REQUIRED)(obs)


def expect_redeemed_or_required(obs: Observation) -> list[str]:
    """The code issued without a challenge: redeemed = the AS does not require PKCE of public clients
    (informational); refused = it requires PKCE, and then RFC 7636 §4.4.1 wanted invalid_request at the
    authorization endpoint."""
    if obs.status is None:
        return [f"no response ({obs.error})"]
    if obs.status == 200 and isinstance(obs.json, dict) and obs.json.get("access_token"):
        return [deviation("a public client's code without PKCE was redeemed: PKCE is not required", "SHOULD",
                          PUBLIC_MUST)]
    return [deviation("the AS requires PKCE (the code is refused without a verifier) but its authorization "
                      "endpoint issued the code instead of an invalid_request error", "MUST", REQUIRED)]


def refused_quietly(rule: str) -> Check:
    """Any refusal passes (an error page or an error redirect); a code is informational (``rule`` is a SHOULD at
    most on the server's side)."""
    def check(obs: Observation) -> list[str]:
        if obs.status is None:
            return [f"no response ({obs.error})"]
        params = location_params(obs)
        if params is not None and params.get("code"):
            return [deviation("a code was issued", "SHOULD", rule)]
        return []
    return check


# -- the catalog rows -----------------------------------------------------------------------------------------
REFUSED_AT_TOKEN = expect_error(400, "invalid_grant", rule=VERIFY)

SCENARIOS: list[Scenario] = [
    Scenario("pkce-rfc7636-vector", "The RFC 7636 Appendix B challenge/verifier pair redeems a code (known answer).",
             ("RFC 7636 Appendix B", "RFC 7636 §4.6"), AS, "high", redeem_known_answer_pair,
             expect_token(rule=VERIFY), CODE_FLOW, FAMILY),
    Scenario("pkce-verifier-missing", "A code issued for an S256 challenge is refused without code_verifier.",
             ("RFC 7636 §4.6", "RFC 9700 §2.1.1"), AS, "critical", drop_code_verifier,
             expect_error(400, "invalid_grant", "invalid_request", rule=VERIFIER_MISSING), CODE_FLOW, FAMILY),
    Scenario("pkce-verifier-wrong", "Well-formed verifiers that do not match the challenge are refused "
             "(random, the challenge itself, one character changed, truncated, extended, case inverted).",
             ("RFC 7636 §4.6", "RFC 9700 §2.1.1"), AS, "critical", swap_code_verifier, REFUSED_AT_TOKEN, CODE_FLOW,
             FAMILY),
    Scenario("pkce-downgrade", "A code_verifier is refused for a code whose request carried no challenge.",
             ("RFC 9700 §2.1.1", "RFC 9700 §4.8.2"), AS, "high", send_verifier_without_challenge,
             refused_anywhere("invalid_grant", "invalid_request", rule=DOWNGRADE), CODE_FLOW, FAMILY),
    Scenario("pkce-required-public", "A public client's authorization request without code_challenge is refused "
             "with invalid_request.", ("RFC 7636 §4.4.1", "RFC 9700 §2.1.1"), AS, "high", drop_code_challenge,
             by_label(expect_required_at_authorize, redeem=expect_redeemed_or_required), CODE_FLOW, FAMILY),
    Scenario("pkce-plain-rejected", "code_challenge_method=plain is refused (S256 only; informational).",
             ("RFC 9700 §2.1.1", "RFC 7636 §4.2"), AS, "medium", set_method_plain, refused_quietly(PLAIN), CODE_FLOW,
             FAMILY),
    Scenario("pkce-method-default-plain", "An S256 challenge sent without a method is not silently treated as S256.",
             ("RFC 7636 §4.3",), AS, "medium", drop_challenge_method,
             refused_anywhere("invalid_grant", "invalid_request", rule=DEFAULT_PLAIN, issued="deviation"), CODE_FLOW,
             FAMILY),
    Scenario("pkce-method-unknown", "Unknown or mis-cased code_challenge_method values are refused.",
             ("RFC 7636 §4.4.1",), AS, "medium", set_unknown_method,
             refused_at_authorize("invalid_request", state=S_UNKNOWN, rule=UNKNOWN_METHOD), CODE_FLOW, FAMILY),
    Scenario("pkce-verifier-format", "Verifiers outside 43*128unreserved are refused even when their S256 "
             "matches (informational); 43 and 128 characters work.", ("RFC 7636 §4.1",), AS, "medium",
             malform_code_verifier,
             by_label(refused_anywhere("invalid_request", "invalid_grant", rule=VERIFIER_ABNF, keyword="SHOULD"),
                      control=expect_token(rule=VERIFY)), CODE_FLOW, FAMILY),
    Scenario("pkce-challenge-format", "Challenges outside 43*128unreserved are refused at the authorization "
             "endpoint (informational).", ("RFC 7636 §4.2",), AS, "low", malform_code_challenge,
             refused_quietly(CHALLENGE_ABNF), CODE_FLOW, FAMILY),
    Scenario("pkce-cross-code", "The verifier of one flow does not redeem the code of another.",
             ("RFC 7636 §4.4", "RFC 9700 §4.5.3.1"), AS, "critical", cross_code_verifier, REFUSED_AT_TOKEN, CODE_FLOW,
             FAMILY),
    Scenario("pkce-metadata", "The metadata lists S256 in code_challenge_methods_supported.",
             ("RFC 9700 §2.1.1", "RFC 8414 §2"), AS, "low", fetch_metadata, _metadata_rule,
             CODE_FLOW, FAMILY),
]
NOT_APPLICABLE: dict[str, str] = {}
