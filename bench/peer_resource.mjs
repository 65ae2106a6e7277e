// The reference peer (node-oidc-provider, the same package the peers folder installs) set up for the calls a
// resource server makes: UserInfo (GET /me) and introspection (POST /token/introspection, RFC 7662).
//
// The peer's own server.mjs leaves introspection off and gives its access tokens a resource audience, which its
// UserInfo refuses. This file is that server's configuration (the same client less its client_credentials
// grant, the same key kinds and in-memory store) with introspection enabled, and a loopback side server that
// mints one access token as its code grant would (opaque, as its UserInfo requires; scope "openid profile
// email", bound to a grant). Started and stopped by bench/peer.py.
//
//   PORT       listen port (127.0.0.1 only);  ALG  RS256 (default) or ES256
//   MINT_PORT  GET /mint -> one access token
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import http from 'node:http';

import Provider from 'oidc-provider';

const PORT = Number(process.env.PORT || 3100);
const ISSUER = `http://127.0.0.1:${PORT}`;
const ALG = (process.env.ALG || 'RS256').toUpperCase();

function signingJwk(alg) {
  const pair = alg === 'RS256'
    ? generateKeyPairSync('rsa', { modulusLength: 2048 })
    : generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { ...pair.privateKey.export({ format: 'jwk' }), use: 'sig', alg, kid: `bench-${alg.toLowerCase()}` };
}

const stores = new Map();
class MapAdapter {
  constructor(name) { this.name = name; }

  key(id) { return `${this.name}:${id}`; }

  async upsert(id, payload, expiresIn) {
    stores.set(this.key(id), { payload, exp: expiresIn ? Date.now() + expiresIn * 1000 : Infinity });
  }

  async find(id) {
    const e = stores.get(this.key(id));
    if (!e || e.exp < Date.now()) return undefined;
    return e.payload;
  }

  async findByUserCode() { return undefined; }

  async findByUid() { return undefined; }

  async consume(id) { const e = stores.get(this.key(id)); if (e) e.payload.consumed = Math.floor(Date.now() / 1000); }

  async destroy(id) { stores.delete(this.key(id)); }

  async revokeByGrantId() {}
}

const provider = new Provider(ISSUER, {
  adapter: MapAdapter,
  clients: [{
    client_id: 'bench',
    client_secret: 'bench-secret',
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    redirect_uris: ['http://127.0.0.1:9999/cb'],
    token_endpoint_auth_method: 'client_secret_basic',
    id_token_signed_response_alg: ALG,
  }],
  jwks: { keys: [signingJwk(ALG)] },
  cookies: { keys: [randomBytes(32).toString('base64url')] },
  scopes: ['openid', 'offline_access', 'profile', 'email'],
  claims: { openid: ['sub'], profile: ['name', 'preferred_username'], email: ['email', 'email_verified'] },
  findAccount: async (_ctx, sub) => ({
    accountId: sub,
    claims: async () => ({ sub, name: 'Bench User', preferred_username: sub, email: `${sub}@example.org`, email_verified: true }),
  }),
  features: { introspection: { enabled: true } },
});

provider.listen(PORT, '127.0.0.1');

if (process.env.MINT_PORT) {
  http.createServer(async (_req, res) => {
    try {
      const client = await provider.Client.find('bench');
      const grant = new provider.Grant({ accountId: 'user-0', clientId: 'bench' });
      grant.addOIDCScope('openid profile email');
      const grantId = await grant.save();
      const at = new provider.AccessToken({ accountId: 'user-0', client, grantId, scope: 'openid profile email', gty: 'authorization_code' });
      res.writeHead(200, { 'content-type': 'text/plain' }).end(`${await at.save()}\n`);
    } catch (err) {
      res.writeHead(500).end(String(err && err.stack));
    }
  }).listen(Number(process.env.MINT_PORT), '127.0.0.1');
}

function shutdown() { process.exit(0); }
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
