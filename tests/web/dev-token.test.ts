/**
 * POST /dev/token on real gateway processes: served only with DEV_TOKENS=1 (a loud warning in
 * the log, never the token), 404 otherwise; its token opens a session; bad requests get 400/413.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { TestClient } from '../support/client';
import { isolatedEnv, startGateway, type GatewayProcess } from '../support/gateways';
import { uniqueName } from '../support/infra';

let enabled: GatewayProcess;
let disabled: GatewayProcess;

beforeAll(async () => {
  const env = isolatedEnv();
  [enabled, disabled] = await Promise.all([
    startGateway({ env: { ...env, DEV_TOKENS: '1' } }),
    startGateway({ env }),
  ]);
}, 180_000);

afterAll(async () => {
  await Promise.all([enabled?.stop(), disabled?.stop()]);
});

const logOf = (gateway: GatewayProcess): string =>
  readFileSync(resolve(__dirname, '..', '..', '.run', 'test-logs', `${gateway.id}.log`), 'utf8');

function post(gateway: GatewayProcess, body: string): Promise<Response> {
  return fetch(`${gateway.httpUrl}/dev/token`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body,
  });
}

test('with DEV_TOKENS=1 it mints a token that opens a session as that user, and the log warns but never shows it', async () => {
  const user = uniqueName('alice');
  const response = await post(enabled, JSON.stringify({ user }));
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toBe('application/json');
  const { token } = (await response.json()) as { token: string };
  expect(token).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);

  const client = await TestClient.connect(enabled.url, { token });
  const welcome = client.all('welcome')[0];
  expect(welcome?.user).toBe(user);
  await client.close();

  const log = logOf(enabled);
  expect(log).toContain('DEV_TOKENS IS ON');
  expect(log).toContain(user);
  expect(log).not.toContain(token);
  expect(log).not.toContain(token.split('.')[2]);
});

test('without DEV_TOKENS the route does not exist (404) and nothing is said about it', async () => {
  const response = await post(disabled, JSON.stringify({ user: 'alice' }));
  expect(response.status).toBe(404);
  expect(await response.json()).toEqual({ error: 'not_found' });
  expect(logOf(disabled)).not.toContain('DEV_TOKENS');
});

test('refuses bad requests: an invalid user id (400), a body over 4 KiB (413), GET (404)', async () => {
  const invalid = await post(enabled, JSON.stringify({ user: 'not a valid id' }));
  expect(invalid.status).toBe(400);
  expect(await invalid.json()).toMatchObject({ error: 'invalid_request' });

  const large = await post(enabled, JSON.stringify({ user: 'alice', padding: 'x'.repeat(5000) }));
  expect(large.status).toBe(413);

  const get = await fetch(`${enabled.httpUrl}/dev/token?user=alice`);
  expect(get.status).toBe(404);
  // The gateway still serves its other routes.
  expect((await fetch(`${enabled.httpUrl}/healthz`)).status).toBe(200);
});
