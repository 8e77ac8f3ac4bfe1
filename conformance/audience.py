"""Catalog §4: audience, issuer, type and scope (resource server). RFC 7519 §4.1.1/§4.1.3 (exact
StringOrURI comparison), RFC 9068 §4 (iss exact, aud, typ at+jwt), RFC 8725 §3.9/§3.11, RFC 6750 §3.1
(insufficient_scope), RFC 9068 §2.2.3 (scope is a space-delimited string)."""
from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from harness import checks, forge
from harness.mutations import rs, with_rules
from harness.rskit import RSKit
from harness.scenario import NotApplicable, Probe

MINT = ("mint",)
AUD = MINT + ("audience",)
ISS = MINT + ("issuer",)
# RFC 7519 §4.1.3: "If the principal processing the claim does not identify itself with a value in the aud claim
# when this claim is present, then the JWT MUST be rejected." Observable on every target, with or without an
# audience in its profile (a target that expects no aud still identifies with none of the foreign values).
# RFC 9068 §4 (RFC 9068 resource servers): "The JWT access token MUST be rejected if aud does not contain a
# resource indicator of the current resource server as a valid audience" — so a missing aud too.
# RFC 9068 §4: the issuer identifier "MUST exactly match the value of the iss claim"; for other resource servers
# that declare an issuer, RFC 8725 §3.8: "the application MUST validate that the cryptographic keys used ...
# belong to the issuer. If they do not, the application MUST reject the JWT."
# StringOrURI values compare "as case-sensitive strings with no transformations or canonicalizations applied"
# (RFC 7519 §2): near matches are foreign values.
IN_AUDIENCE = checks.accepts('RFC 7519 §4.1.3: "In the general case, the aud value is an array of case-sensitive '
                             'strings"; the resource server identifies itself with one of them')
SCOPE_ARRAY = checks.rejected_without_crash  # RFC 9068 §2.2.3: scope is a space-delimited string, not an array


def set_audience(kit: RSKit) -> list[Probe]:
    return [Probe("aud = https://other-rs.example", kit.mint(kit.claims(aud="https://other-rs.example")))]


def put_audience_in_array(kit: RSKit) -> list[Probe]:
    aud = kit.profile.audience
    return [Probe('aud = ["https://other", <rs-id>]', kit.mint(kit.claims(aud=["https://other", aud])),
                  expect=IN_AUDIENCE),
            Probe("aud = [<rs-id>]", kit.mint(kit.claims(aud=[aud])), expect=IN_AUDIENCE)]


def set_audience_array_without_target(kit: RSKit) -> list[Probe]:
    """Arrays that name another audience, nobody, or garbage. Where the profile names no audience, aud = [] is
    left out: an empty audience names no one, which is the aud-less token such a target accepts by design (the
    attack, replaying a token meant for another audience, needs a value)."""
    values = (["https://other"], [], [""], [None], [123]) if kit.profile.audience else \
        (["https://other"], [""], [None], [123])
    return [Probe(f"aud = {v!r}", kit.mint(kit.claims(aud=v))) for v in values]


def _near(value: str) -> list[tuple[str, str]]:
    """Values a sloppy comparison might accept: trailing slash, other case, suffix/prefix, other scheme."""
    out = [("trailing slash", value + "/" if not value.endswith("/") else value[:-1]),
           ("upper-case", value.upper()), ("suffix .evil", value + ".evil"), ("prefix", value[:-1]),
           ("extra path", value.rstrip("/") + "/x"), ("embedded in a longer string", "_" + value + "_")]
    parts = urlsplit(value)
    if parts.scheme in ("http", "https"):
        other = "https" if parts.scheme == "http" else "http"
        out.append(("other scheme", urlunsplit((other,) + tuple(parts)[1:])))
        if parts.hostname and parts.hostname.upper() != parts.hostname:
            out.append(("upper-case host", value.replace(parts.hostname, parts.hostname.upper(), 1)))
    seen, result = {value}, []
    for label, v in out:
        if v not in seen:
            seen.add(v)
            result.append((label, v))
    return result


def set_near_audience(kit: RSKit) -> list[Probe]:
    return [Probe(f"aud {label}: {v!r}", kit.mint(kit.claims(aud=v))) for label, v in _near(kit.profile.audience or "")]


def drop_audience(kit: RSKit) -> list[Probe]:
    return [Probe("no aud", kit.mint(kit.claims(drop=("aud",))))]


def set_issuer(kit: RSKit) -> list[Probe]:
    return [Probe("iss = https://evil.example", kit.mint(kit.claims(iss="https://evil.example")))]


def set_near_issuer(kit: RSKit) -> list[Probe]:
    iss = kit.profile.issuer or ""
    extra = [("scheme only", iss.split(":")[0]), ("first half", iss[: len(iss) // 2]), ("substring", iss[1:-1])]
    return [Probe(f"iss {label}: {v!r}", kit.mint(kit.claims(iss=v))) for label, v in _near(iss) + extra if v != iss]


def drop_issuer(kit: RSKit) -> list[Probe]:
    return [Probe("no iss", kit.mint(kit.claims(drop=("iss",))))]


def send_id_token(kit: RSKit) -> list[Probe]:
    """An OIDC ID Token of the same issuer (typ JWT, aud = the client) used as an access token."""
    client = kit.claims().get("client_id") or kit.profile.client_id or "frontend"
    claims = kit.claims(drop=("scope", "client_id"), aud=client, nonce="n-0S6_WzA2Mj", auth_time=kit.claims()["iat"],
                        azp=client)
    return [Probe("ID token (typ JWT, aud = client_id)", kit.mint(claims, kit.header(typ="JWT"))),
            Probe("ID token without typ", kit.mint(claims, kit.header(drop=("typ",))))]


def vary_typ(kit: RSKit) -> list[Probe]:
    typ = kit.profile.required_typ or ""
    base = typ.lower().removeprefix("application/")
    probes = [Probe(f"typ {v!r}", kit.mint(kit.claims(), kit.header(typ=v)))
              for v in ("JWT", "secevent+jwt", "dpop+jwt", "jwt", "at+jwt+x") if v.lower() != base]
    probes.append(Probe("typ absent", kit.mint(kit.claims(), kit.header(drop=("typ",)))))
    accepted = {base, "application/" + base, base.upper() if "+" not in base else base.split("+")[0] + "+" +
                base.split("+")[1].upper()}
    probes += [Probe(f"typ {v!r} (accepted: media types compare case-insensitively)",
                     kit.mint(kit.claims(), kit.header(typ=v)), expect=checks.ok) for v in sorted(accepted)]
    return probes


def _narrow_scope(kit: RSKit) -> list[str]:
    p = kit.profile
    return [s for s in p.scope.split() if s not in (p.scoped_scope or "").split()]


def drop_scope(kit: RSKit) -> list[Probe]:
    p = kit.profile
    assert kit.narrow_token is not None
    return [Probe(f"token without {p.scoped_scope!r} on {p.scoped_endpoint}", kit.narrow_token,
                  path=p.scoped_endpoint, expect=checks.insufficient_scope(p.scoped_scope or ""))]


def blur_scope_boundaries(kit: RSKit) -> list[Probe]:
    p = kit.profile
    need = (p.scoped_scope or "").split()
    keep = _narrow_scope(kit)
    variants = [("non-prefixed and read:-prefixed look-alikes",
                 " ".join(keep + [f"non{n}" for n in need] + [f"read:{n}-x" for n in need])),
                ("upper-case", " ".join(keep + [n.upper() for n in need])),
                ("comma-separated", ",".join(keep + need)) if keep else ("with a trailing comma",
                                                                          " ".join(n + "," for n in need))]
    expect = checks.insufficient_scope(p.scoped_scope or "")
    probes = [Probe(f"scope {label}: {v!r}", kit.mint(kit.claims(scope=v)), path=p.scoped_endpoint, expect=expect)
              for label, v in variants]
    probes.append(Probe(f"scope as a JSON array {keep + need}", kit.mint(kit.claims(scope=keep + need)),
                        path=p.scoped_endpoint, expect=SCOPE_ARRAY))
    return probes


def add_scope_unsigned(kit: RSKit) -> list[Probe]:
    p = kit.profile
    if p.scoped_endpoint and kit.narrow_token and "jwt" in kit.capabilities:
        claims = forge.claims_of(kit.narrow_token)
        claims["scope"] = " ".join(_narrow_scope(kit) + (p.scoped_scope or "").split())
        return [Probe(f"{p.scoped_scope!r} added to scope, signature kept", forge.with_payload(kit.narrow_token, claims),
                      path=p.scoped_endpoint)]
    if "jwt" not in kit.capabilities:
        raise NotApplicable("the target's tokens are not JWTs")
    token = kit.base_token()
    claims = forge.claims_of(token)
    claims["scope"] = (str(claims.get("scope", "")) + " admin").strip()
    return [Probe("admin added to scope, signature kept", forge.with_payload(token, claims))]


SCENARIOS = [
    rs(id="aud-mismatch", summary="A token for another audience is rejected.",
       refs=("RFC 9068 §4", "RFC 7519 §4.1.3", "RFC 8725 §3.9", "RFC 9700 §2.3"), severity="critical",
       mutate=set_audience, needs=MINT, family="aud"),
    rs(id="aud-array-match", summary="aud as an array containing the target (or only it) is accepted.",
       refs=("RFC 7519 §4.1.3",), severity="low", mutate=put_audience_in_array, expect=IN_AUDIENCE, needs=AUD,
       family="aud"),
    rs(id="aud-array-nomatch", summary="aud arrays without the target ([\"other\"], [], [\"\"], [null], "
       "[123]) are rejected.", refs=("RFC 9068 §4", "CVE-2020-26160"), severity="critical",
       mutate=set_audience_array_without_target, needs=MINT, family="aud"),
    rs(id="aud-missing", summary="A token without aud is rejected (RFC 9068 resource servers).",
       refs=("RFC 9068 §4", "RFC 8725 §3.9"), severity="critical", mutate=drop_audience,
       needs=AUD + ("rfc9068",), family="aud"),
    rs(id="aud-near-match", summary="aud values near the target's (slash, case, suffix, prefix, scheme) are "
       "rejected.", refs=("RFC 7519 §2", "RFC 9068 §4"), severity="high", mutate=set_near_audience, needs=AUD,
       family="aud"),
    rs(id="iss-mismatch", summary="A token from another issuer (signed with the trusted key) is rejected.",
       refs=("RFC 9068 §4", "RFC 8725 §3.8"), severity="critical", mutate=set_issuer, needs=ISS, family="iss"),
    rs(id="iss-near-match", summary="iss values near the issuer (substring, prefix, slash, case, extra path) "
       "are rejected.", refs=("RFC 9068 §4", "CVE-2024-53861"), severity="high", mutate=set_near_issuer,
       needs=ISS, family="iss"),
    rs(id="iss-missing", summary="A token without iss is rejected (RFC 9068 resource servers).",
       refs=("RFC 9068 §4", "RFC 9068 §2.2"), severity="high", mutate=drop_issuer, needs=ISS + ("rfc9068",),
       family="iss"),
    rs(id="typ-id-token", summary="An ID Token of the same issuer is not accepted as an access token.",
       refs=("RFC 9068 §4", "RFC 9068 §5", "RFC 8725 §3.11"), severity="high", mutate=send_id_token,
       needs=MINT + ("typ",), family="typ"),
    rs(id="typ-values", summary="Only the required typ (case-insensitive, with or without application/) is "
       "accepted.", refs=("RFC 9068 §4", "RFC 8725 §3.11"), severity="medium", mutate=vary_typ,
       needs=MINT + ("typ",), family="typ"),
    rs(id="scope-insufficient", summary="A valid token without the needed scope gets 403 insufficient_scope "
       "naming it.", refs=("RFC 6750 §3.1",), severity="critical", mutate=drop_scope,
       expect=checks.insufficient_scope(""), needs=("scoped_endpoint", "narrow_token"), family="scope"),
    rs(id="scope-boundary", summary="Look-alike, upper-case or array scopes do not satisfy the needed scope.",
       refs=("RFC 9068 §2.2.3", "RFC 6749 §3.3"), severity="high", mutate=blur_scope_boundaries,
       needs=MINT + ("scoped_endpoint",), family="scope"),
    rs(id="scope-tamper-unsigned", summary="A scope added without re-signing gets 401 invalid_token, not "
       "403.", refs=("RFC 8725 §3.3",), severity="critical", mutate=add_scope_unsigned, needs=("jwt",),
       family="scope"),
]

NOT_APPLICABLE = {
    "aud-cross-rs-replay": "needs an authorization server issuing tokens for two resources of the same issuer; "
                           "with a minted token it is aud-mismatch, which runs",
    "sub-client-collision": "a property of the authorization server's client registration (it must refuse a "
                            "client_id equal to a user's sub); not observable from one resource-server profile",
}

# The sentence each expectation rests on, with its keyword (audited against the RFC text).
_AUD = ("RFC 7519 §4.1.3: If the principal processing the claim does not identify itself with a value in the aud "
        "claim when this claim is present, then the JWT MUST be rejected")
_ISS = ("RFC 9068 §4: The issuer identifier for the authorization server MUST exactly match the value of the iss "
        "claim; RFC 8725 §3.8: the application MUST reject a JWT whose keys do not belong to its issuer")
RULES = {
    "aud-mismatch": _AUD,
    "aud-array-match": "RFC 7519 §4.1.3: In the general case, the aud value is an array of case-sensitive strings "
                       "(no rule forbids accepting one that names the recipient: refusing is a deviation at most)",
    "aud-array-nomatch": _AUD,
    "aud-missing": "RFC 9068 §4: The JWT access token MUST be rejected if aud does not contain a resource indicator "
                   "of the current resource server as a valid audience",
    "aud-near-match": _AUD + "; RFC 7519 §2: StringOrURI values are compared as case-sensitive strings with no "
                             "transformations or canonicalizations applied",
    "iss-mismatch": _ISS,
    "iss-near-match": _ISS + " (exactly: RFC 7519 §2 comparison without canonicalization)",
    "iss-missing": _ISS,
    "typ-id-token": 'RFC 9068 §4: The resource server MUST verify that the "typ" header value is "at+jwt" or '
                    '"application/at+jwt" and reject tokens carrying any other value',
    "typ-values": 'RFC 9068 §4: MUST verify that the typ header value is "at+jwt" or "application/at+jwt"; '
                  "RFC 7515 §4.1.9: media type values compare case-insensitively",
    "scope-insufficient": "RFC 6750 §3.1 insufficient_scope: The resource server SHOULD respond with the HTTP 403 "
                          "(Forbidden) status code and MAY include the scope attribute (serving it is a "
                          "vulnerability)",
    "scope-boundary": "RFC 9068 §2.2.3 / RFC 6749 §3.3: scope is a list of space-delimited, case-sensitive strings; "
                      "a look-alike MUST NOT grant the needed scope (RFC 6750 §3.1 insufficient_scope)",
    "scope-tamper-unsigned": "RFC 7515 §5.2 / RFC 9068 §4: the signature MUST validate (401 invalid_token, not 403)",
}
SCENARIOS = with_rules(SCENARIOS, RULES)
