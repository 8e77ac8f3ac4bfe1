// node oidc-provider as a third-party authorization server for the tests (never for production): a public
// code-flow client "spa" (PKCE required), a confidential client "m2m" (client_credentials), development
// login and consent pages that accept any test user. Usage: node server.js PORT
import Provider from "oidc-provider";

const port = Number(process.argv[2] || 3000);
const issuer = `http://127.0.0.1:${port}`;
const provider = new Provider(issuer, {
  clients: [
    { client_id: "spa", token_endpoint_auth_method: "none", redirect_uris: ["http://localhost:8080/callback"],
      grant_types: ["authorization_code", "refresh_token"], response_types: ["code"] },
    { client_id: "m2m", client_secret: process.env.M2M_SECRET || "m2m-secret-for-tests-only-0123456789",
      grant_types: ["client_credentials"], redirect_uris: [], response_types: [] },
  ],
  pkce: { required: () => true },
  scopes: ["openid", "offline_access", "me", "items"],
  features: { devInteractions: { enabled: true }, clientCredentials: { enabled: true },
              revocation: { enabled: true } },
  findAccount: async (ctx, id) => ({ accountId: id, claims: async () => ({ sub: id }) }),
  cookies: { keys: ["cookie-key-for-tests-only"] },
});
provider.listen(port, "127.0.0.1", () => console.log(`oidc-provider listening on ${issuer}`));
