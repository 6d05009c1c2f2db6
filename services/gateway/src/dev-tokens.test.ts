/** The dev token route on its own: off by default, needs JWT_SECRET, mints what the gateway accepts. */
import { createLogger } from '@postbox/logger';
import { TokenVerifier } from './auth/tokens';
import { DEV_TOKEN_PATH, DEV_TOKEN_TTL_SECONDS, devTokenRoutes } from './dev-tokens';

const SECRET = 'unit-test-secret-0123456789abcdef-0123456789';
const logger = createLogger({ name: 'test', level: 'silent' });
interface Config {
  DEV_TOKENS: boolean;
  JWT_SECRET: string | undefined;
  JWT_ISSUER: string | undefined;
  JWT_AUDIENCE: string | undefined;
}
const base: Config = { DEV_TOKENS: true, JWT_SECRET: SECRET, JWT_ISSUER: undefined, JWT_AUDIENCE: undefined };

function mintRoute(config: Config): (body: string) => Promise<{ status: number; body: string }> {
  const route = devTokenRoutes(config, logger)[DEV_TOKEN_PATH];
  if (route === undefined) throw new Error('no /dev/token route');
  return route;
}

test('serves nothing unless DEV_TOKENS is on', () => {
  expect(devTokenRoutes({ ...base, DEV_TOKENS: false }, logger)).toEqual({});
});

test('refuses to start with DEV_TOKENS but no JWT_SECRET (a public key cannot sign)', () => {
  expect(() => devTokenRoutes({ ...base, JWT_SECRET: undefined }, logger)).toThrow(/JWT_SECRET/);
});

test.each([
  ['no issuer or audience', {}],
  ['the configured issuer and audience', { JWT_ISSUER: 'https://issuer.test', JWT_AUDIENCE: 'postbox' }],
])('mints a 1 h token the gateway verifies, with %s', async (_name, extra) => {
  const config = { ...base, ...extra };
  const reply = await mintRoute(config)(JSON.stringify({ user: 'alice@example.com' }));
  expect(reply.status).toBe(200);
  const { token } = JSON.parse(reply.body) as { token: string };
  const verifier = new TokenVerifier({
    secret: SECRET,
    issuer: config.JWT_ISSUER,
    audience: config.JWT_AUDIENCE,
  });
  const checked = await verifier.verify(token);
  expect(checked).toEqual({ ok: true, token: { user: 'alice@example.com', expiresAt: expect.any(Number) } });
  if (checked.ok) {
    const lifetime = checked.token.expiresAt - Date.now();
    expect(lifetime).toBeGreaterThan((DEV_TOKEN_TTL_SECONDS - 60) * 1000);
    expect(lifetime).toBeLessThanOrEqual(DEV_TOKEN_TTL_SECONDS * 1000);
  }
});

test.each([
  ['not JSON', 'user=alice'],
  ['no user', '{}'],
  ['a user that is not a string', '{"user":42}'],
  ['an invalid user id', '{"user":"a b"}'],
  ['a user id over 128 characters', JSON.stringify({ user: 'u'.repeat(129) })],
  ['JSON null', 'null'],
])('answers 400 to %s', async (_name, body) => {
  const reply = await mintRoute(base)(body);
  expect(reply.status).toBe(400);
  expect(JSON.parse(reply.body)).toMatchObject({ error: 'invalid_request' });
});
