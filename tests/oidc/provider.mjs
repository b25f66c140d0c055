// An independent OpenID provider for the relying-party tests: panva/oidc-provider (OpenID Certified), with its own
// development login screens. Usage: node provider.mjs <config.json>; prints "ready <issuer>" once it listens.
// The config names the issuer and port, the client (the app), the signing keys and the accounts' claims.
import { readFileSync } from 'node:fs';
import Provider from 'oidc-provider';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));

const provider = new Provider(config.issuer, {
  clients: config.clients,
  jwks: config.jwks,
  cookies: { keys: ['dost-test-provider-cookie-key'] },
  scopes: ['openid', 'user', 'certificate'],
  claims: { openid: ['sub'], user: ['fin', 'name'], certificate: ['certificate', 'organizations'] },
  // Scope claims come from the userinfo endpoint only, as the specification's default: the relying party must
  // merge them with the ID token's.
  conformIdTokenClaims: true,
  features: {
    devInteractions: { enabled: true },
    rpInitiatedLogout: { enabled: true },
  },
  pkce: { required: () => true },
  async findAccount(ctx, id) {
    const claims = config.accounts[id];
    if (!claims) return undefined;
    return { accountId: id, async claims() { return { sub: id, ...claims }; } };
  },
});
provider.on('server_error', (ctx, error) => console.error('server_error', error));

const server = provider.listen(config.port, '127.0.0.1', () => console.log(`ready ${config.issuer}`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
