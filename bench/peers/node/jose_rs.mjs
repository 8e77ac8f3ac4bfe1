// The resource server peer of `run.py bench peers`: node:http + jose, verifying RS256 access tokens
// (RFC 9068) against an issuer's JWKS on every request, the way a jose-based API does it.
//
//   node jose_rs.mjs PORT ISSUER JWKS_URI AUDIENCE
//
// GET /users/me (scope "me") answers what the token says; GET /health answers {"status":"ok"}.
import http from 'node:http';
import { createRemoteJWKSet, jwtVerify } from 'jose';

const [port, issuer, jwksUri, audience] = [Number(process.argv[2]), ...process.argv.slice(3)];
if (!port || !issuer || !jwksUri || !audience) {
  console.error('usage: node jose_rs.mjs PORT ISSUER JWKS_URI AUDIENCE');
  process.exit(2);
}
const JWKS = createRemoteJWKSet(new URL(jwksUri));
const options = {
  issuer, audience, algorithms: ['RS256'], typ: 'at+jwt',
  requiredClaims: ['exp', 'iat', 'iss', 'aud', 'sub', 'client_id', 'jti'],
};
const JSON_TYPE = { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' };

function send(res, status, body, headers = {}) {
  res.writeHead(status, { ...JSON_TYPE, ...headers });
  res.end(JSON.stringify(body));
}

async function usersMe(req, res) {
  const auth = req.headers.authorization || '';
  if (!/^bearer /i.test(auth)) {
    return send(res, 401, { error: 'unauthorized' }, { 'WWW-Authenticate': 'Bearer' });
  }
  let payload;
  try {
    ({ payload } = await jwtVerify(auth.slice(7), JWKS, options));
  } catch {
    return send(res, 401, { error: 'invalid_token' }, { 'WWW-Authenticate': 'Bearer error="invalid_token"' });
  }
  const scopes = typeof payload.scope === 'string' ? payload.scope.split(' ') : [];
  if (!scopes.includes('me')) {
    return send(res, 403, { error: 'insufficient_scope', scope: 'me' },
      { 'WWW-Authenticate': 'Bearer error="insufficient_scope", scope="me"' });
  }
  const doc = { username: payload.sub, client_id: payload.client_id, scope: payload.scope };
  for (const k of ['azp', 'gty', 'iss', 'exp']) if (k in payload) doc[k] = payload[k];
  return send(res, 200, doc);
}

http.createServer((req, res) => {
  const path = req.url.split('?', 1)[0];
  if (req.method === 'GET' && (path === '/users/me' || path === '/users/me/')) return void usersMe(req, res);
  if (req.method === 'GET' && path === '/health') return send(res, 200, { status: 'ok' });
  return send(res, 404, { error: 'not_found' });
}).listen(port, '127.0.0.1', () => console.log(`jose resource server on 127.0.0.1:${port}`));
