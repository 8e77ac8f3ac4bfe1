// oauthlab SPA: OAuth 2.0 Authorization Code + PKCE (RFC 6749 §4.1, RFC 7636) in plain JavaScript.
//
// - code_verifier: 32 random bytes (crypto.getRandomValues), base64url = 43 characters (RFC 7636 §4.1);
// - code_challenge = BASE64URL(SHA-256(verifier)) by crypto.subtle, method S256 (RFC 7636 §4.2);
// - state: 16 random bytes, checked on return (RFC 6749 §10.12, CSRF);
// - the verifier and state wait in sessionStorage for the redirect round trip only, and are removed on
//   return; tokens are kept in memory (this closure) only, never in localStorage or cookies;
// - every value is written with textContent (never innerHTML), so nothing from a server is run as markup.
"use strict";

(function () {
  const PENDING_KEY = "oauthlab.pending";
  const PENDING_MAX_AGE_MS = 10 * 60 * 1000;
  const $ = (id) => document.getElementById(id);

  let config = null;   // from /config.json
  let tokens = null;   // {access_token, refresh_token, ...}: memory only

  // -- small helpers ------------------------------------------------------------------------------------
  function b64url(bytes) {
    let s = "";
    for (const b of bytes) s += String.fromCharCode(b);
    return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function randomString(nbytes) {
    const a = new Uint8Array(nbytes);
    crypto.getRandomValues(a);
    return b64url(a);
  }

  async function s256(verifier) {
    const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
    return b64url(new Uint8Array(digest));
  }

  function decodeSegment(segment) {
    const b64 = segment.replace(/-/g, "+").replace(/_/g, "/");
    const bin = atob(b64 + "===".slice((b64.length + 3) % 4));
    const bytes = Uint8Array.from(bin, (c) => c.charCodeAt(0));
    return JSON.parse(new TextDecoder().decode(bytes));
  }

  function decodeJwt(token) {
    const parts = String(token).split(".");
    if (parts.length !== 3) return null;
    try {
      return { header: decodeSegment(parts[0]), claims: decodeSegment(parts[1]) };
    } catch (e) {
      return null;
    }
  }

  function short(token) {
    if (!token) return "(none)";
    return token.length > 48 ? token.slice(0, 24) + "…" + token.slice(-12) + " (" + token.length + " chars)" : token;
  }

  function text(id, value) {
    $(id).textContent = typeof value === "string" ? value : JSON.stringify(value, null, 2);
  }

  function verdict(id, ok, message) {
    const el = $(id);
    el.textContent = message;
    el.className = ok ? "ok" : "bad";
  }

  function reveal(id) { $(id).hidden = false; }

  function status(message) { text("status", message); }

  function fail(message) {
    const el = $("error");
    el.textContent = message;
    el.hidden = false;
    status("Stopped.");
  }

  function clearError() { $("error").hidden = true; $("error").textContent = ""; }

  function buttons() {
    const ready = Boolean(config && config.endpoints);
    $("login").disabled = !ready;
    $("call-me").disabled = !tokens;
    $("call-items").disabled = !tokens;
    $("refresh").disabled = !(tokens && tokens.refresh_token);
    $("logout").disabled = !tokens;
  }

  function redirectUri() { return window.location.origin + "/callback"; }

  function form(params) {
    return {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json" },
      body: new URLSearchParams(params).toString(),
      credentials: "omit",
      cache: "no-store",
    };
  }

  async function readJson(resp) {
    const raw = await resp.text();
    try { return JSON.parse(raw); } catch (e) { return raw; }
  }

  // -- step 1: configuration ----------------------------------------------------------------------------
  async function loadConfig() {
    const resp = await fetch("/config.json", { cache: "no-store" });
    if (!resp.ok) throw new Error("/config.json answered " + resp.status);
    config = await resp.json();
    const dl = $("config");
    dl.textContent = "";
    const rows = [
      ["issuer", config.issuer],
      ["metadata", config.metadata_url],
      ["authorization_endpoint", config.endpoints ? config.endpoints.authorization_endpoint : "—"],
      ["token_endpoint", config.endpoints ? config.endpoints.token_endpoint : "—"],
      ["revocation_endpoint", config.endpoints ? (config.endpoints.revocation_endpoint || "(none)") : "—"],
      ["client_id", config.client_id + " (public client: no secret, PKCE instead)"],
      ["redirect_uri", redirectUri()],
      ["scope", config.scope],
      ["API", config.api_url],
    ];
    for (const [k, v] of rows) {
      const dt = document.createElement("dt");
      dt.textContent = k;
      const dd = document.createElement("dd");
      const code = document.createElement("code");
      code.textContent = v;
      dd.appendChild(code);
      dl.append(dt, dd);
    }
    if (!config.endpoints) {
      fail("The authorization server " + config.issuer + " cannot be reached yet (" + config.discovery_error +
           "). Start it (python run.py serve oauth-proxy) and reload this page.");
    }
  }

  // -- step 2: PKCE, state, redirect --------------------------------------------------------------------
  async function login() {
    clearError();
    if (!window.isSecureContext || !crypto.subtle) {
      fail("crypto.subtle needs a secure context: open this page as http://localhost:8080 or over https.");
      return;
    }
    const verifier = randomString(32);
    const challenge = await s256(verifier);
    const state = randomString(16);
    const url = new URL(config.endpoints.authorization_endpoint);
    url.search = new URLSearchParams({
      response_type: "code",
      client_id: config.client_id,
      redirect_uri: redirectUri(),
      scope: config.scope,
      state: state,
      code_challenge: challenge,
      code_challenge_method: "S256",
    }).toString();
    sessionStorage.setItem(PENDING_KEY, JSON.stringify({
      verifier: verifier, state: state, authorize_url: url.toString(), created: Date.now(),
    }));
    showPkce(verifier, challenge, state, url.toString());
    status("Redirecting to the authorization server…");
    window.location.assign(url.toString());
  }

  function showPkce(verifier, challenge, state, authorizeUrl) {
    reveal("step-pkce");
    text("verifier", verifier);
    text("challenge", challenge);
    text("state", state);
    text("authorize-url", authorizeUrl);
  }

  // -- step 3 and 4: callback and token exchange ---------------------------------------------------------
  async function handleCallback() {
    const params = new URLSearchParams(window.location.search);
    // The code must not linger in the address bar or the history.
    history.replaceState(null, "", "/callback");
    const raw = sessionStorage.getItem(PENDING_KEY);
    sessionStorage.removeItem(PENDING_KEY);  // single use, whatever happens next
    if (!raw) {
      fail("No login was started in this tab, so there is no state to compare with: the response is ignored. " +
           "Start again with the login button.");
      return;
    }
    const pending = JSON.parse(raw);
    showPkce(pending.verifier, await s256(pending.verifier), pending.state, pending.authorize_url);
    reveal("step-callback");
    const returned = params.get("state");
    text("code", params.get("code") || "(none)");
    text("state-returned", returned === null ? "(none)" : returned);
    if (returned !== pending.state) {
      verdict("state-check", false, "does not match: possible CSRF, the code is not used");
      fail("state mismatch (RFC 6749 §10.12): this response was not requested by this tab.");
      return;
    }
    verdict("state-check", true, "matches the state sent in step 2");
    // RFC 9207 §2.4: if the response carries iss, or the issuer's metadata says it always does, iss must be
    // the issuer we sent the user to (a mix-up attack swaps authorization servers behind the user's back).
    const iss = params.get("iss");
    text("iss-returned", iss === null ? "(none)" : iss);
    if (iss !== null || config.iss_parameter) {
      if (iss !== config.issuer) {
        verdict("iss-check", false, "not the issuer this login was sent to: the code is not used");
        fail("iss mismatch (RFC 9207): expected " + config.issuer + ", got " + (iss === null ? "none" : iss) + ".");
        return;
      }
      verdict("iss-check", true, "is the issuer this login was sent to (RFC 9207)");
    } else {
      verdict("iss-check", true, "not sent (the issuer does not announce RFC 9207)");
    }
    if (params.get("error")) {
      fail("The authorization server answered error=" + params.get("error") +
           (params.get("error_description") ? " (" + params.get("error_description") + ")" : ""));
      return;
    }
    if (Date.now() - pending.created > PENDING_MAX_AGE_MS) {
      fail("This login started more than 10 minutes ago; start again.");
      return;
    }
    const code = params.get("code");
    if (!code) {
      fail("The callback carries no code.");
      return;
    }
    await exchangeCode(code, pending.verifier);
  }

  async function exchangeCode(code, verifier) {
    reveal("step-token");
    const params = {
      grant_type: "authorization_code",
      code: code,
      redirect_uri: redirectUri(),
      client_id: config.client_id,
      code_verifier: verifier,
    };
    text("token-request", "POST " + config.endpoints.token_endpoint + "\n" + new URLSearchParams(params).toString());
    status("Exchanging the code at the token endpoint…");
    let resp;
    try {
      resp = await fetch(config.endpoints.token_endpoint, form(params));
    } catch (e) {
      fail("The token endpoint could not be reached from the browser (network or CORS): " + e.message);
      return;
    }
    const body = await readJson(resp);
    if (!resp.ok) {
      verdict("token-status", false, resp.status + " " + JSON.stringify(body));
      fail("The token request failed: " + JSON.stringify(body));
      return;
    }
    verdict("token-status", true, resp.status + " OK, token_type " + body.token_type + ", expires_in " +
            body.expires_in + " s, scope \"" + (body.scope || "") + "\"");
    tokens = body;
    showToken();
    buttons();
    await callApi("/users/me");
  }

  function showToken() {
    text("access-token", short(tokens.access_token));
    text("refresh-token", tokens.refresh_token ? short(tokens.refresh_token) : "(none)");
    const jwt = decodeJwt(tokens.access_token);
    if (!jwt) {
      text("token-header", "(not a JWT: an opaque token)");
      text("token-claims", "");
      return;
    }
    text("token-header", jwt.header);
    text("token-claims", jwt.claims);
    const c = jwt.claims;
    if (typeof c.iat === "number" && typeof c.exp === "number") {
      text("token-times", "Issued " + new Date(c.iat * 1000).toLocaleString() + ", expires " +
           new Date(c.exp * 1000).toLocaleString() + " (" + (c.exp - c.iat) + " s).");
    }
  }

  // -- step 5: the API ----------------------------------------------------------------------------------
  async function callApi(path) {
    reveal("step-api");
    clearError();
    const url = config.api_url + path;
    text("api-request", "GET " + url + "  (Authorization: Bearer " + short(tokens.access_token) + ")");
    verdict("api-status", true, "…");
    text("api-result", "");
    status("Calling the API…");
    let resp;
    try {
      resp = await fetch(url, {
        headers: { "Authorization": "Bearer " + tokens.access_token, "Accept": "application/json" },
        credentials: "omit",
        cache: "no-store",
      });
    } catch (e) {
      verdict("api-status", false, "no answer");
      fail("The API could not be reached from the browser (network or CORS): " + e.message);
      return;
    }
    const body = await readJson(resp);
    const challenge = resp.headers.get("WWW-Authenticate");
    verdict("api-status", resp.ok, resp.status + (resp.ok ? " OK" : "") + (challenge ? "  WWW-Authenticate: " + challenge : ""));
    text("api-result", body);
    status(resp.ok ? "Done: the API accepted the token." : "The API refused the token.");
  }

  // -- step 6: refresh and logout -------------------------------------------------------------------------
  function sessionLog(message) {
    reveal("step-session");
    const p = $("session-log");
    p.textContent = (p.textContent ? p.textContent + "\n" : "") + message;
  }

  async function refresh() {
    clearError();
    const old = tokens.refresh_token;
    let resp;
    try {
      resp = await fetch(config.endpoints.token_endpoint, form({
        grant_type: "refresh_token", refresh_token: old, client_id: config.client_id,
      }));
    } catch (e) {
      fail("The token endpoint could not be reached: " + e.message);
      return;
    }
    const body = await readJson(resp);
    if (!resp.ok) {
      fail("Refresh failed: " + JSON.stringify(body));
      return;
    }
    tokens = body;
    showToken();
    buttons();
    sessionLog("Refreshed: new access token" + (body.refresh_token && body.refresh_token !== old
      ? " and a new refresh token (rotation: the old one is now spent)." : "."));
    status("Token refreshed.");
  }

  async function revoke(token, hint) {
    if (!token) return "no " + hint;
    const resp = await fetch(config.endpoints.revocation_endpoint, form({
      token: token, token_type_hint: hint, client_id: config.client_id,
    }));
    return hint + " " + resp.status;
  }

  async function logout() {
    clearError();
    const results = [];
    if (config.endpoints.revocation_endpoint) {
      try {
        results.push(await revoke(tokens.refresh_token, "refresh_token"));
        results.push(await revoke(tokens.access_token, "access_token"));
      } catch (e) {
        results.push("revocation endpoint unreachable: " + e.message);
      }
    }
    tokens = null;
    buttons();
    text("access-token", "(forgotten)");
    text("refresh-token", "(forgotten)");
    sessionLog("Logged out: revocation " + (results.join(", ") || "not offered by the server") +
      ". The tokens are dropped from memory. A JWT access token stays verifiable by the API until its exp: " +
      "keep them short-lived.");
    status("Logged out.");
  }

  // -- start ----------------------------------------------------------------------------------------------
  function guard(fn) {
    return function () {
      fn().catch(function (e) { fail(String(e && e.message ? e.message : e)); });
    };
  }

  async function main() {
    $("login").addEventListener("click", guard(login));
    $("call-me").addEventListener("click", guard(() => callApi("/users/me")));
    $("call-items").addEventListener("click", guard(() => callApi("/users/me/items")));
    $("refresh").addEventListener("click", guard(refresh));
    $("logout").addEventListener("click", guard(logout));
    await loadConfig();
    buttons();
    if (window.location.pathname.replace(/\/$/, "") === "/callback") {
      if (!config.endpoints) return;
      await handleCallback();
    } else if (config.endpoints) {
      status("Ready: press the login button.");
    }
    buttons();
  }

  document.addEventListener("DOMContentLoaded", guard(main));
})();
