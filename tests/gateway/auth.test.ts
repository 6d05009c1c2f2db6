/**
 * The upgrade's gatekeeping (docs/protocol.md "Connecting"), end to end: refusals over HTTP before any
 * WebSocket exists, with the exact status and JSON body, directly and through nginx; Origin
 * allowlist; the per-user connection cap across gateways; asymmetric keys; expiry while connected.
 */
import { generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { SignJWT } from 'jose';
import { TestClient } from '../support/client';
import { isolatedEnv, startGateway, type GatewayProcess } from '../support/gateways';
import { startNginx, type RunningNginx } from '../support/nginx';
import { tokenFor, unsignedToken } from '../support/tokens';
import { jsonBody, tryUpgrade, type UpgradeOutcome } from '../support/upgrade';

const ALLOWED = 'https://app.example.com';
let env: Record<string, string>;
let plain: GatewayProcess;
let guarded: GatewayProcess;
let edge: RunningNginx;
const clients: TestClient[] = [];

beforeAll(async () => {
  env = { ...isolatedEnv(), MAX_CONNECTIONS_PER_USER: '2' };
  [plain, guarded] = await Promise.all([
    startGateway({ env }),
    startGateway({ env: { ...env, ALLOWED_ORIGINS: ALLOWED } }),
  ]);
  edge = await startNginx({ upstreamPorts: [plain.port, guarded.port] });
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close()));
});

afterAll(async () => {
  await edge?.stop();
  await Promise.all([plain, guarded].map((gateway) => gateway?.stop()));
});

const user = (name = 'u') => `${name}-${randomBytes(4).toString('hex')}`;
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const query = (token: string) => `?token=${encodeURIComponent(token)}`;

function expectRefused(outcome: UpgradeOutcome, status: number, error: string): void {
  expect({ status: outcome.status, contentType: outcome.contentType }).toEqual({
    status,
    contentType: expect.stringMatching(/^application\/json\b/),
  });
  expect(jsonBody(outcome)).toEqual({ error, message: expect.any(String) });
}

interface Attempt {
  headers: Record<string, string>;
  query: string;
}

// Each case builds its credentials afresh (tokens carry exp relative to now).
const refusedCases: [string, () => Promise<Attempt>][] = [
  ['no credentials at all', async () => ({ headers: {}, query: '' })],
  ['a malformed token', async () => ({ headers: bearer('not.a.jwt'), query: '' })],
  ['garbage that is not even three parts', async () => ({ headers: {}, query: query('garbage') })],
  [
    'a token expired beyond the 5 s leeway',
    async () => ({ headers: bearer(await tokenFor(user(), { expiresIn: -30 })), query: '' }),
  ],
  [
    'a token signed with another secret',
    async () => ({
      headers: bearer(await tokenFor(user(), { secret: 'another-secret-0123456789abcdef-0123456789' })),
      query: '',
    }),
  ],
  ['an alg:none token', async () => ({ headers: bearer(unsignedToken(user())), query: '' })],
  ['an alg:none token in the query', async () => ({ headers: {}, query: query(unsignedToken(user())) })],
  [
    'a token without exp',
    async () => ({ headers: bearer(await tokenFor(user(), { withoutExp: true })), query: '' }),
  ],
  [
    'a sub with forbidden characters',
    async () => ({ headers: bearer(await tokenFor('bad user!')), query: '' }),
  ],
  ['a sub of 129 characters', async () => ({ headers: bearer(await tokenFor('a'.repeat(129))), query: '' })],
  [
    'an empty Bearer token, even with a valid ?token=',
    async () => ({ headers: { authorization: 'Bearer ' }, query: query(await tokenFor(user())) }),
  ],
  [
    'a bare "Bearer" scheme, even with a valid ?token=',
    async () => ({ headers: { authorization: 'Bearer' }, query: query(await tokenFor(user())) }),
  ],
  [
    'an invalid Bearer header with a valid ?token= (the header is the credential)',
    async () => ({ headers: bearer('not.a.jwt'), query: query(await tokenFor(user())) }),
  ],
  [
    'an expired Bearer header with a valid ?token=',
    async () => ({
      headers: bearer(await tokenFor(user(), { expiresIn: -30 })),
      query: query(await tokenFor(user())),
    }),
  ],
];

const acceptedCases: [string, () => Promise<Attempt>][] = [
  ['a valid Bearer header', async () => ({ headers: bearer(await tokenFor(user())), query: '' })],
  ['a valid ?token= alone', async () => ({ headers: {}, query: query(await tokenFor(user())) })],
  [
    'the scheme in lower case ("bearer")',
    async () => ({ headers: { authorization: `bearer ${await tokenFor(user())}` }, query: '' }),
  ],
  [
    'a non-Bearer scheme (counts as absent) with a valid ?token=',
    async () => ({ headers: { authorization: 'Basic dXNlcjpwYXNz' }, query: query(await tokenFor(user())) }),
  ],
];

describe.each([
  ['directly to a gateway', () => plain.url],
  ['through nginx', () => edge.url],
])('%s', (_where, url) => {
  test.each(refusedCases)('401 unauthorized for %s', async (_name, attempt) => {
    const { headers, query: search } = await attempt();
    expectRefused(await tryUpgrade(url(), headers, search), 401, 'unauthorized');
  });

  test.each(acceptedCases)('accepts %s', async (_name, attempt) => {
    const { headers, query: search } = await attempt();
    expect((await tryUpgrade(url(), headers, search)).status).toBe(101);
  });
});

describe('Origin allowlist', () => {
  test('an Origin outside the allowlist gets 403 forbidden, before the token is looked at', async () => {
    const token = await tokenFor(user());
    expectRefused(
      await tryUpgrade(guarded.url, { ...bearer(token), origin: 'https://evil.example.com' }),
      403,
      'forbidden',
    );
    expectRefused(await tryUpgrade(guarded.url, { origin: 'https://evil.example.com' }), 403, 'forbidden');
    // Exact scheme://host[:port]: neither another scheme nor another port passes.
    for (const origin of ['http://app.example.com', 'https://app.example.com:8443'])
      expectRefused(await tryUpgrade(guarded.url, { ...bearer(token), origin }), 403, 'forbidden');
  });

  test('the allowed Origin passes, and so does a request without Origin', async () => {
    const token = await tokenFor(user());
    expect((await tryUpgrade(guarded.url, { ...bearer(token), origin: ALLOWED })).status).toBe(101);
    expect((await tryUpgrade(guarded.url, bearer(token))).status).toBe(101);
  });

  test('an allowed Origin still needs a token', async () => {
    expectRefused(await tryUpgrade(guarded.url, { origin: ALLOWED }), 401, 'unauthorized');
  });
});

describe('connections per user (MAX_CONNECTIONS_PER_USER=2)', () => {
  test('the third connection, on either gateway, gets 429; a close frees a slot', async () => {
    const name = user('many');
    const token = await tokenFor(name);
    const first = await TestClient.connect(plain.url, { token });
    const second = await TestClient.connect(guarded.url, { token });
    clients.push(first, second);
    expectRefused(await tryUpgrade(plain.url, bearer(token)), 429, 'too_many_connections');
    expectRefused(await tryUpgrade(guarded.url, bearer(token)), 429, 'too_many_connections');
    expectRefused(await tryUpgrade(edge.url, bearer(token)), 429, 'too_many_connections');
    await first.close();
    // The slot is released as the close is processed: wait for that event, not for a fixed time.
    const third = await retryUntilConnected(plain.url, token);
    clients.push(third);
    expect(third.frames[0]).toMatchObject({ type: 'welcome', user: name });
    expectRefused(await tryUpgrade(guarded.url, bearer(token)), 429, 'too_many_connections');
  });
});

async function retryUntilConnected(url: string, token: string): Promise<TestClient> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      return await TestClient.connect(url, { token });
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((done) => setTimeout(done, 100));
    }
  }
}

test('a token that expires while connected closes the connection with 1008 token_expired', async () => {
  const client = await TestClient.connect(plain.url, { token: await tokenFor(user(), { expiresIn: 3 }) });
  clients.push(client);
  // Deadline: exp (3 s) + the protocol's 5 s, + slack for a loaded machine; only code and reason are asserted.
  expect(await client.waitClosed(20_000)).toEqual({ code: 1008, reason: 'token_expired' });
});

describe.each([
  ['RS256', () => generateKeyPairSync('rsa', { modulusLength: 2048 })],
  ['ES256', () => generateKeyPairSync('ec', { namedCurve: 'P-256' })],
])('%s with JWT_PUBLIC_KEY', (alg, generate) => {
  const pair = generate();
  const other = generate();
  const publicPem = pair.publicKey.export({ type: 'spki', format: 'pem' }).toString();
  let gateway: GatewayProcess;

  beforeAll(async () => {
    gateway = await startGateway({ env: { ...env, JWT_SECRET: '', JWT_PUBLIC_KEY: publicPem } });
  });
  afterAll(async () => {
    await gateway?.stop();
  });

  const sign = (sub: string, key: KeyObject | Uint8Array, algorithm = alg) =>
    new SignJWT({})
      .setProtectedHeader({ alg: algorithm, typ: 'JWT' })
      .setSubject(sub)
      .setExpirationTime(Math.floor(Date.now() / 1000) + 600)
      .sign(key);

  test(`a token signed with the private key is accepted`, async () => {
    const name = user();
    const client = await TestClient.connect(gateway.url, { token: await sign(name, pair.privateKey) });
    clients.push(client);
    expect(client.frames[0]).toMatchObject({ type: 'welcome', user: name });
  });

  test('a token signed with another private key is refused', async () => {
    expectRefused(
      await tryUpgrade(gateway.url, bearer(await sign(user(), other.privateKey))),
      401,
      'unauthorized',
    );
  });

  test('alg confusion: HS256 signed with the public key text as secret is refused', async () => {
    const token = await sign(user(), new TextEncoder().encode(publicPem), 'HS256');
    expectRefused(await tryUpgrade(gateway.url, bearer(token)), 401, 'unauthorized');
  });

  test('an HS256 token with the test secret is refused when only a public key is configured', async () => {
    expectRefused(await tryUpgrade(gateway.url, bearer(await tokenFor(user()))), 401, 'unauthorized');
  });

  test('alg:none is refused', async () => {
    expectRefused(await tryUpgrade(gateway.url, bearer(unsignedToken(user()))), 401, 'unauthorized');
  });
});
