// jsonwebtoken (run by node_rs.js with --app-dir node-jsonwebtoken-VERSION; tests only).
// HS256 keys are looked up by the token's kid in a key set, and jwt.verify() is called without the
// `algorithms` option, the usage the advisory names: CVE-2022-23540 (jsonwebtoken <= 8.5.1 verified an
// unsigned token with the "none" algorithm when the key it was given was falsy, here: no kid, no key;
// 9.0.0 refuses).
"use strict";
const fs = require("fs");

exports.verifier = (args, load) => {
  const jwt = load("jsonwebtoken");
  const keySet = JSON.parse(fs.readFileSync(args["key-set"], "utf8")).hs256
    .filter((k) => k.retired === null)
    .reduce((acc, k) => ({ ...acc, [k.kid]: k.secret }), {});
  return (token) => {
    const decoded = jwt.decode(token, { complete: true });
    if (!decoded || typeof decoded.header !== "object") throw new Error("not a JWT");
    return jwt.verify(token, keySet[decoded.header.kid], { audience: args.audience, issuer: args.issuer });
  };
};
