// node-jose (run by node_rs.js with --app-dir node-node-jose-VERSION; tests only).
// The RS256 public key (SPKI PEM) is given to JWS.createVerify(), and the claims are checked by hand (node-jose
// verifies signatures only): CVE-2018-0114 (node-jose < 0.11.0 verified with the key in the token's own
// `jwk` header when there was one; 0.11.0 does so only with allowEmbeddedKey).
"use strict";
const fs = require("fs");

exports.verifier = (args, load) => {
  const jose = load("node-jose");
  const key = jose.JWK.asKey(fs.readFileSync(args["key-file"], "utf8"), "pem");
  return async (token) => {
    const result = await jose.JWS.createVerify(await key).verify(token);
    const claims = JSON.parse(result.payload.toString("utf8"));
    const aud = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
    if (typeof claims.exp !== "number" || claims.exp * 1000 <= Date.now()) throw new Error("expired");
    if (claims.iss !== args.issuer || !aud.includes(args.audience)) throw new Error("issuer or audience");
    return claims;
  };
};
