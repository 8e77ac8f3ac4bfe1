// A tiny resource server around one jsonwebtoken version (tests only). Run it with
// NODE_PATH=<node-jsonwebtoken-VERSION>/node_modules so that require() finds that version.
//
// HS256 keys are looked up by the token's kid in a key set, and jwt.verify() is called without the
// `algorithms` option, the usage the advisory names: CVE-2022-23540 (jsonwebtoken <= 8.5.1 verified an
// unsigned token with the "none" algorithm when the key it was given was falsy, here: no kid, no key;
// 9.0.0 refuses). GET /users/me: 200 with the subject, or 401 with an RFC 6750 §3 challenge; GET /health.
"use strict";
const http = require("http");
const fs = require("fs");
const jwt = require("jsonwebtoken");

const args = Object.fromEntries(process.argv.slice(2).reduce((acc, v, i, a) =>
  (i % 2 === 0 ? acc.concat([[v.replace(/^--/, ""), a[i + 1]]]) : acc), []));
const keySet = JSON.parse(fs.readFileSync(args["key-set"], "utf8")).hs256
  .filter((k) => k.retired === null)
  .reduce((acc, k) => ({ ...acc, [k.kid]: k.secret }), {});

function send(res, status, body, challenge) {
  const headers = { "Content-Type": "application/json" };
  if (challenge) headers["WWW-Authenticate"] = challenge;
  res.writeHead(status, headers);
  res.end(JSON.stringify(body));
}

http.createServer((req, res) => {
  if (req.url === "/health") return send(res, 200, { status: "ok" });
  if (req.url !== "/users/me") return send(res, 404, { error: "not_found" });
  const [scheme, token] = (req.headers.authorization || "").split(" ");
  if (!scheme || scheme.toLowerCase() !== "bearer" || !token) return send(res, 401, { error: "unauthorized" }, "Bearer");
  const decoded = jwt.decode(token, { complete: true });
  if (!decoded || typeof decoded.header !== "object") {
    return send(res, 401, { error: "invalid_token" }, 'Bearer error="invalid_token"');
  }
  try {
    const claims = jwt.verify(token, keySet[decoded.header.kid], { audience: args.audience, issuer: args.issuer });
    return send(res, 200, { sub: claims.sub });
  } catch (err) {
    return send(res, 401, { error: "invalid_token" }, 'Bearer error="invalid_token"');
  }
}).listen(Number(args.port), "127.0.0.1");
