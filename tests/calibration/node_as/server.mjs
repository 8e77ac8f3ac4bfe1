// node oidc-provider as an authorization server to calibrate the harness against (tests only).
//
// Usage: node server.mjs PORT
//
// Clients:  "public-app"       public (token_endpoint_auth_method none), code + PKCE S256, refresh tokens
//           "confidential-app" client_secret_basic / client_secret_post, client_credentials
// Account:  alice / wonderland-2026 (the login page answers an unknown user and a wrong password alike)
// Resource: every access token is a JWT for the resource https://api.calibration.example (RFC 8707)
//
// The interaction pages (login, consent) are this script's own, in the style of oidc-provider's examples:
// the interaction is bound to the provider's SameSite=Lax interaction cookie, no extra CSRF token.
import { createServer } from 'node:http';
import { scryptSync, timingSafeEqual, randomBytes } from 'node:crypto';
import Provider from 'oidc-provider';

const port = Number(process.argv[2] || 0);
const issuer = `http://127.0.0.1:${port}`;
const RESOURCE = 'https://api.calibration.example';
const REDIRECT = 'http://localhost:8080/callback';
const SALT = randomBytes(16);
const hash = (password) => scryptSync(password, SALT, 32);
const ACCOUNTS = { alice: hash('wonderland-2026') };
const DUMMY = hash('not-a-password-of-anyone');

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: 'public-app',
      token_endpoint_auth_method: 'none',
      redirect_uris: [REDIRECT],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
    },
    {
      client_id: 'confidential-app',
      client_secret: 'calibration-confidential-secret-0123456789',
      redirect_uris: [REDIRECT],
      grant_types: ['client_credentials', 'authorization_code', 'refresh_token'],
      response_types: ['code'],
    },
  ],
  cookies: { keys: ['calibration-cookie-key-0123456789abcdef'] },
  pkce: { required: () => true, methods: ['S256'] },
  scopes: ['openid', 'offline_access', 'api:read', 'api:write'],
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    revocation: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => RESOURCE,
      useGrantedResource: () => true,
      getResourceServerInfo: (ctx, indicator) => {
        if (indicator !== RESOURCE) throw new Error('unknown resource');
        return { scope: 'api:read api:write', audience: RESOURCE, accessTokenFormat: 'jwt', accessTokenTTL: 600 };
      },
    },
  },
  issueRefreshToken: async (ctx, client) => client.grantTypeAllowed('refresh_token'),
  findAccount: async (ctx, id) => ({ accountId: id, claims: async () => ({ sub: id }) }),
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
});
provider.proxy = false;

const page = (title, body) => `<!doctype html><html><head><meta charset="utf-8"><title>${title}</title></head>
<body><h1>${title}</h1>${body}</body></html>`;

function loginPage(uid, message) {
  return page('Sign in', `${message ? `<p class="error">${message}</p>` : ''}
<form method="post" action="/interaction/${uid}/login">
<label>Username <input type="text" name="login" autocomplete="username"></label>
<label>Password <input type="password" name="password" autocomplete="current-password"></label>
<button type="submit">Sign in</button></form>`);
}

function consentPage(uid, clientId) {
  return page('Authorize', `<p>${clientId} asks for access.</p>
<form method="post" action="/interaction/${uid}/confirm"><button type="submit">Continue</button></form>`);
}

function send(res, status, html) {
  res.writeHead(status, {
    'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store', 'X-Frame-Options': 'DENY',
    'Content-Security-Policy': "frame-ancestors 'none'", 'Referrer-Policy': 'no-referrer',
  });
  res.end(html);
}

async function readForm(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

function checkPassword(login, password) {
  const stored = ACCOUNTS[login];
  const given = hash(password || '');
  return timingSafeEqual(stored || DUMMY, given) && stored !== undefined;
}

async function interaction(req, res, uid, action) {
  let details;
  try {
    details = await provider.interactionDetails(req, res);
  } catch (err) {
    return send(res, 400, page('Error', '<p>This sign-in attempt is no longer valid.</p>'));
  }
  if (details.uid !== uid) return send(res, 400, page('Error', '<p>This sign-in attempt is no longer valid.</p>'));
  const { prompt, params, session } = details;
  if (req.method === 'GET' && !action) {
    return prompt.name === 'login' ? send(res, 200, loginPage(uid)) : send(res, 200, consentPage(uid, params.client_id));
  }
  if (req.method === 'POST' && action === 'login' && prompt.name === 'login') {
    const form = await readForm(req);
    if (!checkPassword(form.get('login'), form.get('password'))) {
      return send(res, 200, loginPage(uid, 'Invalid username or password.'));
    }
    return provider.interactionFinished(req, res, { login: { accountId: form.get('login') } },
      { mergeWithLastSubmission: false });
  }
  if (req.method === 'POST' && action === 'confirm' && prompt.name === 'consent') {
    await readForm(req);
    const { details: missing } = prompt;
    let { grantId } = details;
    const grant = grantId ? await provider.Grant.find(grantId)
      : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
    if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
    if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
    if (missing.missingResourceScopes) {
      for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes)) {
        grant.addResourceScope(indicator, scopes.join(' '));
      }
    }
    grantId = await grant.save();
    const result = details.grantId ? {} : { consent: { grantId } };
    return provider.interactionFinished(req, res, result, { mergeWithLastSubmission: true });
  }
  return send(res, 400, page('Error', '<p>Unexpected request.</p>'));
}

const callback = provider.callback();
const server = createServer((req, res) => {
  const match = /^\/interaction\/([A-Za-z0-9_-]+)(?:\/(login|confirm))?\/?(?:\?.*)?$/.exec(req.url);
  if (match) {
    interaction(req, res, match[1], match[2]).catch(() => {
      if (!res.headersSent) send(res, 500, page('Error', '<p>Something went wrong.</p>'));
    });
    return;
  }
  callback(req, res);
});
server.listen(port, '127.0.0.1', () => {
  process.stdout.write(`listening on ${issuer}\n`);
});
