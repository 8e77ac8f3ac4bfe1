// The authorization server peer of `run.py bench peers`: node oidc-provider 8.8 issuing client_credentials
// access tokens as RS256 JWTs (RFC 9068) for one resource indicator (RFC 8707), the same job oauth-proxy
// does for its m2m client.
//
//   node oidc_provider.mjs PORT CLIENT_SECRET [RESOURCE]
//
// Client m2m authenticates with client_secret_basic; the RSA-2048 signing key is generated at start-up.
import { generateKeyPair, exportJWK } from 'jose';
import Provider from 'oidc-provider';

const port = Number(process.argv[2]);
const secret = process.argv[3];
const resource = process.argv[4] || 'http://127.0.0.1:9000';
if (!port || !secret) {
  console.error('usage: node oidc_provider.mjs PORT CLIENT_SECRET [RESOURCE]');
  process.exit(2);
}

const { privateKey } = await generateKeyPair('RS256', { modulusLength: 2048, extractable: true });
const jwk = { ...(await exportJWK(privateKey)), alg: 'RS256', use: 'sig', kid: 'bench' };
const issuer = `http://127.0.0.1:${port}`;

const provider = new Provider(issuer, {
  clients: [{
    client_id: 'm2m',
    client_secret: secret,
    grant_types: ['client_credentials'],
    redirect_uris: [],
    response_types: [],
    token_endpoint_auth_method: 'client_secret_basic',
  }],
  jwks: { keys: [jwk] },
  scopes: ['me', 'items'],
  ttl: { ClientCredentials: 600 },
  cookies: { keys: [secret] },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => resource,
      useGrantedResource: () => true,
      getResourceServerInfo: (ctx, indicator) => {
        if (indicator !== resource) throw new Error('unknown resource');
        return {
          scope: 'me items',
          audience: resource,
          accessTokenTTL: 600,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'RS256' } },
        };
      },
    },
  },
});
provider.on('server_error', (ctx, err) => console.error('server_error', err));

provider.listen(port, '127.0.0.1', () => console.log(`oidc-provider on ${issuer}`));
