// fast-jwt (run by node_rs.js with --app-dir node-fast-jwt-VERSION; tests only). The RS256 public key is
// read as the application holds it and given to createVerifier() without `algorithms`, so fast-jwt picks
// the algorithms from the key: CVE-2023-48223 (fast-jwt < 3.3.2 did not recognise a PKCS#1
// "BEGIN RSA PUBLIC KEY" PEM as a public key and used it as an HMAC secret; 3.3.2 recognises it).
"use strict";
const fs = require("fs");

exports.verifier = (args, load) => {
  const { createVerifier } = load("fast-jwt");
  const verify = createVerifier({ key: fs.readFileSync(args["key-file"], "utf8"), allowedIss: args.issuer,
                                  allowedAud: args.audience });
  return (token) => verify(token);
};
