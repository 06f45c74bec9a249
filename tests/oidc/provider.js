// A real OpenID Connect provider for sequester's tests: panva/oidc-provider (OpenID
// Certified), on 127.0.0.1, issuing RS256 JWT access tokens (RFC 9068) for the
// resource `urn:sequester:api` with audience `sequester` (OIDC_AUDIENCE to change it).
//
//   node provider.js [port]      prints {"issuer": "...", "port": N} once listening
//
// Keys are RSA-2048, generated at start (none is kept). Sign-in is the authorization
// code flow with PKCE (S256) through the library's development interactions: a login
// form (any password) and a consent form, which a test posts (tests/oidc/harness.py)
// and a browser can fill in. Accounts are registered by the tests with the extra
// claims their access tokens carry, which is how one provider plays Keycloak
// (realm_access.roles), Okta (groups) and Entra ID (roles, oid).
//
// Control endpoints (JSON over POST; nothing here is part of any real provider):
//   /_control/accounts  {"id": ..., "claims": {...}}   register or replace an account
//   /_control/clients   {client metadata}              register a client (e.g. a console
//                                                        with its own redirect_uri)
//   /_control/keys/rotate                              a new key signs from now on; the
//                                                        old one stays published
//   /_control/keys/remove {"kid": ...}                 stop publishing a key
//   GET /_control/state                                {"kids": [...], "signing": kid}
// A change of keys or clients builds a new Provider behind the same port (sessions and
// codes in flight are dropped; tokens already issued stay valid JWTs).

import http from 'node:http';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import Provider, { errors } from 'oidc-provider';

const RESOURCE = 'urn:sequester:api';
const AUDIENCE = process.env.OIDC_AUDIENCE || 'sequester';
const TEST_CLIENT = {
  client_id: 'sequester-tests',
  application_type: 'native',
  token_endpoint_auth_method: 'none',
  grant_types: ['authorization_code'],
  response_types: ['code'],
  redirect_uris: ['http://127.0.0.1/callback'],
};

const accounts = new Map();
const clients = [TEST_CLIENT];
let keys = [newKey()];
let provider;
let handler;

function newKey() {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { ...privateKey.export({ format: 'jwk' }), kid: randomUUID(), alg: 'RS256', use: 'sig' };
}

function configuration() {
  return {
    clients,
    jwks: { keys },
    cookies: { keys: [randomUUID()] },
    scopes: ['openid', 'api'],
    pkce: { required: () => true },
    async findAccount(ctx, id) {
      if (!accounts.has(id)) return undefined;
      return { accountId: id, async claims() { return { sub: id }; } };
    },
    async extraTokenClaims(ctx, token) {
      return accounts.get(token.accountId) ?? {};
    },
    features: {
      devInteractions: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => RESOURCE,
        useGrantedResource: () => true,
        async getResourceServerInfo(ctx, indicator) {
          if (indicator !== RESOURCE) throw new errors.InvalidTarget();
          return {
            scope: 'api',
            audience: AUDIENCE,
            accessTokenFormat: 'jwt',
            accessTokenTTL: 600,
            jwt: { sign: { alg: 'RS256' } },
          };
        },
      },
    },
  };
}

function rebuild() {
  provider = new Provider(issuer, configuration());
  provider.on('server_error', (ctx, error) => console.error(`server_error: ${error.message}`));
  handler = provider.callback();
}

function reply(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

function state() {
  return { kids: keys.map((k) => k.kid), signing: keys[0].kid };
}

async function readJson(req) {
  let text = '';
  for await (const chunk of req) text += chunk;
  return text ? JSON.parse(text) : {};
}

const actions = {
  'GET /_control/state': () => state(),
  'POST /_control/accounts': ({ id, claims }) => {
    accounts.set(id, claims ?? {});
    return { id };
  },
  'POST /_control/clients': (metadata) => {
    const at = clients.findIndex((c) => c.client_id === metadata.client_id);
    if (at >= 0) clients.splice(at, 1);
    clients.push(metadata);
    rebuild();
    return { client_id: metadata.client_id };
  },
  'POST /_control/keys/rotate': () => {
    keys = [newKey(), ...keys];
    rebuild();
    return state();
  },
  'POST /_control/keys/remove': ({ kid }) => {
    if (!keys.some((k) => k.kid === kid)) throw new Error(`no key ${kid}`);
    if (keys.length === 1) throw new Error('the last key cannot be removed');
    keys = keys.filter((k) => k.kid !== kid);
    rebuild();
    return state();
  },
};

async function control(req, res) {
  const action = actions[`${req.method} ${req.url}`];
  if (!action) return reply(res, 404, { error: 'no such control endpoint' });
  try {
    return reply(res, 200, action(await readJson(req)));
  } catch (error) {
    return reply(res, 400, { error: error.message });
  }
}

const server = http.createServer((req, res) => {
  if (req.url.startsWith('/_control/')) return control(req, res);
  return handler(req, res);
});

let issuer;
server.listen(Number(process.argv[2] || 0), '127.0.0.1', () => {
  const { port } = server.address();
  issuer = `http://127.0.0.1:${port}`;
  rebuild();
  console.log(JSON.stringify({ issuer, port }));
});

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
