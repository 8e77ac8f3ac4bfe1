"""The RFC sentences the token-endpoint expectations rest on, quoted with their keyword (not a family: data
shared by the authorization-server families)."""
from __future__ import annotations

CODE_ONCE = ('RFC 6749 §4.1.2: "If an authorization code is used more than once, the authorization server MUST deny '
             'the request and SHOULD revoke (when possible) all tokens previously issued based on that '
             'authorization code."')
CODE_REVOKE = CODE_ONCE
CODE_CLIENT = ('RFC 6749 §4.1.3: the authorization server MUST "ensure that the authorization code was issued to the '
               'authenticated confidential client, or if the client is public, ensure that the code was issued to '
               '"client_id" in the request"; §5.2: invalid_grant when it "was issued to another client"')
CODE_REDIRECT = ('RFC 6749 §4.1.3: the authorization server MUST "ensure that the "redirect_uri" parameter is present '
                 'if the "redirect_uri" parameter was included in the initial authorization request ..., and if '
                 'included ensure that their values are identical."')
INVALID_GRANT = ('RFC 6749 §5.2: "invalid_grant: The provided authorization grant (e.g., authorization code, resource '
                 'owner credentials) or refresh token is invalid, expired, revoked, does not match the redirection '
                 'URI used in the authorization request, or was issued to another client."')
CLIENT_AUTH = ('RFC 6749 §3.2.1: "Confidential clients or other clients issued client credentials MUST authenticate '
               'with the authorization server as described in Section 2.3 when making requests to the token '
               'endpoint."; §5.2: "invalid_client: Client authentication failed (e.g., unknown client, no client '
               'authentication included, or unsupported authentication method)."')
BAD_BASIC = ('RFC 6749 §5.2: "If the client attempted to authenticate via the "Authorization" request header field, '
             'the authorization server MUST respond with an HTTP 401 (Unauthorized) status code and MUST include the '
             'WWW-Authenticate response header field matching the authentication scheme used by the client."')
UNSUPPORTED_GRANT = ('RFC 6749 §5.2: "unsupported_grant_type: The authorization grant type is not supported by the '
                     'authorization server."; §3.1: "Parameters sent without a value MUST be treated as if they were '
                     'omitted from the request." (an omitted grant_type is invalid_request)')
UNAUTHORIZED_CLIENT = ('RFC 6749 §5.2: "unauthorized_client: The authenticated client is not authorized to use this '
                       'authorization grant type."')
CC_CONFIDENTIAL = ('RFC 6749 §4.4.2: "The authorization server MUST authenticate the client." (a public client '
                   'cannot); §4.4: "The client credentials grant type MUST only be used by confidential clients."')
SCOPE_IGNORED = ('RFC 6749 §3.3: "The authorization server MAY fully or partially ignore the scope requested by the '
                 'client ... If the issued access token scope is different from the one requested by the client, '
                 'the authorization server MUST include the "scope" response parameter to inform the client of the '
                 'actual scope granted."')
INVALID_SCOPE = ('RFC 6749 §5.2: "invalid_scope: The requested scope is invalid, unknown, malformed, or exceeds the '
                 'scope granted by the resource owner."')
POST_ONLY = ('RFC 6749 §3.2: "The client MUST use the HTTP "POST" method when making access token requests." (a rule '
             'on the client: any refusal passes); §2.3.1: client credentials "MUST NOT be included in the request '
             'URI" (a token issued from a URL that carries the code and verifier is a finding)')
ONCE_ONLY = ('RFC 6749 §3.2: "Request and response parameters MUST NOT be included more than once." (binds the '
             'sender, here the client); §5.2 names the answer, "invalid_request: The request ... includes a '
             'parameter more than once": informational')
PASSWORD_BCP = 'RFC 9700 §2.4: "The resource owner password credentials grant [RFC6749] MUST NOT be used."'
SAME_ANSWER = ('RFC 6749 §5.2: a wrong password and an unknown user are both "invalid_grant: The provided '
               'authorization grant (e.g., ... resource owner credentials) ... is invalid"; an answer that tells '
               'them apart lets anyone enumerate the accounts (CWE-204)')
CODE_LIFETIME = ('RFC 6749 §4.1.2: "The authorization code MUST expire shortly after it is issued to mitigate the '
                 'risk of leaks. A maximum authorization code lifetime of 10 minutes is RECOMMENDED."')
