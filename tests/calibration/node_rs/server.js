// A resource server written the way jose's README shows it: jwtVerify() against a local JWKS, with the
// issuer, the audience and the algorithms pinned, plus the RFC 9068 access-token type. Bearer parsing and the
// error answers follow RFC 6750 §2.1 and §3. It is a calibration target of the conformance harness: the
// tests start it with `node server.js PORT JWKS_FILE` and replay the resource-server catalog against it.
import http from 'node:http'
import { readFileSync } from 'node:fs'
import { createLocalJWKSet, jwtVerify } from 'jose'

const [port, jwksFile] = process.argv.slice(2)
const JWKS = createLocalJWKSet(JSON.parse(readFileSync(jwksFile, 'utf8')))
const ISSUER = 'urn:example:issuer'
const AUDIENCE = 'urn:example:audience'
const REALM = 'example'
// RFC 6750 §2.1: credentials = "Bearer" 1*SP b64token (the scheme is case-insensitive, RFC 9110 §11.1)
const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*)$/i

function challenge (res, status, error, description, scope) {
  let value = `Bearer realm="${REALM}"`
  if (error) value += `, error="${error}", error_description="${description}"`
  if (scope) value += `, scope="${scope}"`
  res.writeHead(status, { 'WWW-Authenticate': value, 'Content-Type': 'application/json' })
  res.end(JSON.stringify(error ? { error, error_description: description } : { error: 'unauthorized' }))
}

async function authenticate (req, res) {
  const header = req.headers.authorization
  if (header === undefined) {
    challenge(res, 401)
    return null
  }
  const match = BEARER.exec(header)
  if (!match) {
    if (/^Bearer(\s|$)/i.test(header)) challenge(res, 400, 'invalid_request', 'malformed Bearer credentials')
    else challenge(res, 401)
    return null
  }
  try {
    const { payload } = await jwtVerify(match[1], JWKS, {
      issuer: ISSUER,
      audience: AUDIENCE,
      algorithms: ['RS256'],
      typ: 'at+jwt',
      requiredClaims: ['exp', 'sub']
    })
    return payload
  } catch {
    challenge(res, 401, 'invalid_token', 'the access token is invalid')
    return null
  }
}

function scopes (payload) {
  return typeof payload.scope === 'string' ? payload.scope.split(' ') : []
}

const server = http.createServer(async (req, res) => {
  const path = new URL(req.url, 'http://localhost').pathname
  if (path === '/health') {
    res.writeHead(200, { 'Content-Type': 'application/json' })
    return res.end('{"status":"ok"}')
  }
  if (req.method !== 'GET' || (path !== '/users/me' && path !== '/users/me/items')) {
    res.writeHead(404, { 'Content-Type': 'application/json' })
    return res.end('{"error":"not_found"}')
  }
  const payload = await authenticate(req, res)
  if (payload === null) return
  const needed = path === '/users/me/items' ? 'items' : 'me'
  if (!scopes(payload).includes(needed)) {
    return challenge(res, 403, 'insufficient_scope', `the access token lacks the ${needed} scope`, needed)
  }
  res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' })
  res.end(JSON.stringify(needed === 'items' ? [{ item_id: 'Foo', owner: payload.sub }] : { username: payload.sub }))
})

server.listen(Number(port), '127.0.0.1')
