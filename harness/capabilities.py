"""What the harness can do against a target: one vocabulary of capabilities, worked out in one place.

A scenario names the capabilities it ``needs``; a target without one of them gets ``not-applicable`` with
the reason from ``NEED_REASONS``, never a silent pass. Capabilities come from two sources:

- the profile alone (``profile_capabilities``): what the TOML says (a key to mint with, a scoped endpoint,
  an authorization server, a confidential client, a declared RFC 9068 resource server...);
- what the kits learn while preparing a target (``RSKit.prepare`` adds ``jwks``, ``valid_token``, ``jwt``,
  ``narrow_token``); they add them to the same set.

The run options add ``slow`` (``--slow``: scenarios that wait minutes).
"""
from __future__ import annotations

from typing import Any, Iterable

NEED_REASONS = {
    # resource server
    "resource": "the profile has no [resource] section",
    "mint": "the harness cannot sign tokens this target trusts (no private_key_file/secret in the profile)",
    "jwt": "the target's tokens are not JWTs",
    "valid_token": "no valid token could be obtained",
    "asymmetric": "the target verifies a symmetric (HS*) algorithm; this attack needs an RS/ES public key",
    "hmac": "the target verifies an asymmetric algorithm; this control is for HS* targets",
    "jwks": "the target's public keys are unknown (set jwks_url or private_key_file)",
    "scoped_endpoint": "the profile names no scoped_endpoint/scoped_scope",
    "narrow_token": "no token without the scoped scope could be made or obtained",
    "typ": "the profile does not say which typ the target requires (typ, or rfc9068 = true)",
    "scope_claim": "valid tokens carry no scope (the profile's scope is empty)",
    "issuer": "the profile names no issuer (valid tokens carry no iss)",
    "audience": "the profile names no audience (valid tokens carry no aud)",
    "rfc9068": "an RFC 9068 §4 duty: the profile does not declare the target an RFC 9068 resource server "
               "(rfc9068 = true)",
    "listener": "no out-of-band listener",
    "password_grant": "the profile names no token_endpoint with username/password",
    # authorization server
    "authorization_server": "the profile has no [authorization_server] section",
    "token_endpoint": "the profile names no token endpoint",
    "authorization_code": "the profile describes no authorization endpoint and login ([authorization_server])",
    "login": "the profile names no username/password for the login form",
    "refresh_token": "the authorization server issues no refresh tokens",
    "confidential_client": "the profile names no confidential client (confidential_client_id/_secret)",
    "client_credentials": "the profile names no confidential client (confidential_client_id/_secret)",
    "scopes": "the profile's scope is empty",
    "multi_scope": "the profile's scope has fewer than two values",
    "redirect_uri_query": "the profile's redirect_uri has no query component",
    "password_scopes": "the password grant's profile has no scope",
    # run options
    "slow": "slow: run with --slow",
}


def resource_capabilities(r: Any) -> set[str]:
    """What a [resource] profile alone lets the resource-server scenarios do."""
    if r is None:
        return set()
    caps = {"resource", "listener"}
    if r.signing_key is not None:
        caps |= {"mint", "hmac" if r.hmac else "asymmetric"}
    if r.scoped_endpoint:
        caps.add("scoped_endpoint")
    if r.required_typ:
        caps.add("typ")
    if r.scope.strip():
        caps.add("scope_claim")
    if r.issuer:
        caps.add("issuer")
    if r.audience:
        caps.add("audience")
    if getattr(r, "rfc9068", False):
        caps.add("rfc9068")
    if r.token_endpoint:
        caps.add("token_endpoint")
        if r.username and r.password:
            caps.add("password_grant")
            if r.scope.split():
                caps.add("password_scopes")
    return caps


def authorization_capabilities(a: Any) -> set[str]:
    """What an [authorization_server] profile alone lets the authorization-server scenarios do (conditions
    that depend on the server's metadata are checked by the scenario, which raises NotApplicable)."""
    if a is None:
        return set()
    caps = {"authorization_server", "token_endpoint", "authorization_code", "login", "refresh_token"}
    if a.confidential_client_id and a.confidential_client_secret:
        caps |= {"confidential_client", "client_credentials"}
    scopes = (a.scope or "").split()
    if scopes:
        caps.add("scopes")
    if len(scopes) >= 2:
        caps.add("multi_scope")
    if "?" in a.redirect_uri:
        caps.add("redirect_uri_query")
    return caps


def profile_capabilities(target: Any, slow: bool = False) -> set[str]:
    """Everything the profile (and the run options) say the harness can do against ``target``."""
    caps = resource_capabilities(getattr(target, "resource", None))
    caps |= authorization_capabilities(getattr(target, "authorization_server", None))
    if slow:
        caps.add("slow")
    return caps


def needs_of(scenario: Any) -> set[str]:
    """A scenario's needs, with the ones implied by what it applies to and by its tags."""
    needs = set(scenario.needs)
    if scenario.applies_to == "resource-server":
        needs.add("resource")
    else:
        needs.add("authorization_server" if scenario.applies_to == "authorization-server" else "token_endpoint")
    if "slow" in scenario.tags:
        needs.add("slow")
    return needs


def missing(scenario: Any, caps: Iterable[str]) -> list[str]:
    """The needs of ``scenario`` that ``caps`` lacks, sorted ("slow" first: it is the reason to give)."""
    have = set(caps)
    return sorted((n for n in needs_of(scenario) if n not in have), key=lambda n: (n != "slow", n))


def reason(missing_caps: Iterable[str]) -> str:
    """The not-applicable reason for these missing capabilities."""
    return "; ".join(NEED_REASONS.get(m, f"needs {m}") for m in missing_caps)
