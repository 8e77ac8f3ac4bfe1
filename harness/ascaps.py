"""What a profile lets the authorization-server scenarios do (``capabilities``), and why a scenario that needs
something the profile lacks is not applicable (``NEED_REASONS``). Conditions that depend on the server's
metadata are checked by the scenarios themselves, which raise ``NotApplicable``."""
from __future__ import annotations

from typing import Any

# Why a scenario needing a capability is not applicable (for the runner's reasons and the reports).
NEED_REASONS = {
    "authorization_code": "the profile describes no authorization endpoint and login ([authorization_server])",
    "login": "the profile names no username/password for the login form",
    "refresh_token": "the authorization server issues no refresh tokens",
    "confidential_client": "the profile names no confidential client (confidential_client_id/_secret)",
    "client_credentials": "the profile names no confidential client (confidential_client_id/_secret)",
    "scopes": "the profile's scope is empty",
    "multi_scope": "the profile's scope has fewer than two values",
    "redirect_uri_query": "the profile's redirect_uri has no query component",
    "password_scopes": "the password grant's profile has no scope",
}


def capabilities(target: Any) -> set[str]:
    """What the profile lets the AS scenarios do (metadata-dependent conditions are checked in ``mutate``,
    which raises NotApplicable)."""
    caps: set[str] = set()
    a = getattr(target, "authorization_server", None)
    r = getattr(target, "resource", None)
    if a is not None:
        caps |= {"authorization_server", "token_endpoint", "authorization_code", "login", "refresh_token"}
        if a.confidential_client_id and a.confidential_client_secret:
            caps |= {"confidential_client", "client_credentials"}
        scopes = (a.scope or "").split()
        if scopes:
            caps.add("scopes")
        if len(scopes) >= 2:
            caps.add("multi_scope")
        if "?" in a.redirect_uri:
            caps.add("redirect_uri_query")
    if r is not None and getattr(r, "token_endpoint", None):
        caps.add("token_endpoint")
        if r.username and r.password:
            caps.add("password_grant")
            if (r.scope or "").split():
                caps.add("password_scopes")
    return caps
