// The shared part of the small Node resource servers (tests only): arguments, RFC 6750 §3 answers, and the
// HTTP server. `node node_rs.js APP --app-dir DIR --name value ...`: APP exports `verifier(args, load)`,
// returning a function that returns (or resolves to) the token's claims or throws; `load` requires a package
// from DIR/node_modules only (the vendored version, never one found in a parent folder).
// GET /users/me: 200 with the subject, or 401 with a challenge; GET /health: 200.
"use strict";
const http = require("http");
const path = require("path");
const { createRequire } = require("module");

function parseArgs(argv) {
  const out = {};
  for (let i = 0; i + 1 < argv.length; i += 2) out[argv[i].replace(/^--/, "")] = argv[i + 1];
  return out;
}

function send(res, status, body, challenge) {
  const headers = { "Content-Type": "application/json" };
  if (challenge) headers["WWW-Authenticate"] = challenge;
  res.writeHead(status, headers);
  res.end(JSON.stringify(body));
}

function serve(app) {
  const args = parseArgs(process.argv.slice(3));  // node node_rs.js APP --name value ...
  const load = (name) => require(createRequire(path.join(args["app-dir"], "package.json")).resolve(name,
    { paths: [args["app-dir"]] }));
  const verify = require(app).verifier(args, load);
  http.createServer((req, res) => {
    if (req.url === "/health") return send(res, 200, { status: "ok" });
    if (req.url !== "/users/me") return send(res, 404, { error: "not_found" });
    const [scheme, token] = (req.headers.authorization || "").split(" ");
    if (!scheme || scheme.toLowerCase() !== "bearer" || !token) {
      return send(res, 401, { error: "unauthorized" }, "Bearer");
    }
    Promise.resolve().then(() => verify(token)).then(
      (claims) => send(res, 200, { sub: claims.sub }),
      () => send(res, 401, { error: "invalid_token" }, 'Bearer error="invalid_token"'));
  }).listen(Number(args.port), "127.0.0.1");
}

module.exports = { serve };
if (require.main === module) serve(path.resolve(process.argv[2]));
