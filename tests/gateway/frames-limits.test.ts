/**
 * Error codes that need a specially configured gateway (docs/protocol.md "Frames"): `rate_limited`
 * under a small send budget, and `unavailable` while the gateway's own Redis is down — then
 * service again once Redis restarts on the same port with the same AOF.
 */
import { randomBytes } from 'node:crypto';
import { TestClient, type Frame } from '../support/client';
import { isolatedEnv, startGateway, type GatewayProcess } from '../support/gateways';
import { startOwnRedis, type OwnRedis } from '../support/redis-server';
import { tokenFor } from '../support/tokens';
import { jsonBody, tryUpgrade } from '../support/upgrade';

type Answer = Extract<Frame, { type: 'accepted' | 'error' }>;
const clients: TestClient[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close()));
});

const user = (name: string) => `${name}-${randomBytes(4).toString('hex')}`;

async function connect(gateway: GatewayProcess, name: string): Promise<TestClient> {
  const client = await TestClient.connect(gateway.url, { token: await tokenFor(name) });
  clients.push(client);
  await client.next('synced');
  return client;
}

function answerTo(client: TestClient, cid: string): Answer | undefined {
  return client.frames.find(
    (frame): frame is Answer => (frame.type === 'accepted' || frame.type === 'error') && frame.cid === cid,
  );
}

/** Does `act`, then waits for the first accepted/error with this cid that arrives after it. */
async function answerAfter(client: TestClient, act: () => void, cid: string): Promise<Answer> {
  const seen = client.frames.length;
  act();
  return client.waitFor(
    () =>
      client.frames
        .slice(seen)
        .find(
          (frame): frame is Answer =>
            (frame.type === 'accepted' || frame.type === 'error') && frame.cid === cid,
        ),
    20_000,
    `the answer to ${cid}`,
  );
}

/** Polls `probe` until it returns a value (each probe is an event: an HTTP answer or a frame). */
async function eventually<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((done) => setTimeout(done, 200));
  }
}

describe('rate_limited (RATE_SENDS_PER_SECOND=5, RATE_SEND_BURST=5)', () => {
  let gateway: GatewayProcess;
  beforeAll(async () => {
    gateway = await startGateway({
      env: { ...isolatedEnv(), RATE_SENDS_PER_SECOND: '5', RATE_SEND_BURST: '5' },
    });
  });
  afterAll(async () => {
    await gateway?.stop();
  });

  test('20 sends fired at once: some accepted, the rest rate_limited with their cids, never delivered', async () => {
    const [alice, bob] = [user('alice'), user('bob')];
    const a = await connect(gateway, alice);
    const cids = Array.from({ length: 20 }, (_, i) => `r-${i}`);
    for (const [i, cid] of cids.entries()) a.sendJson({ type: 'send', to: bob, body: `b${i}`, cid });
    const answers = await a.waitFor(
      () => {
        const found = cids.map((cid) => answerTo(a, cid));
        return found.every((answer) => answer !== undefined) ? (found as Answer[]) : undefined;
      },
      20_000,
      'an answer to each of the 20 sends',
    );
    const accepted = answers.filter((answer) => answer.type === 'accepted');
    const refused = answers.filter((answer) => answer.type === 'error');
    expect(accepted.length).toBeGreaterThanOrEqual(1);
    expect(refused.length).toBeGreaterThanOrEqual(1);
    for (const answer of refused)
      expect(answer).toMatchObject({ code: 'rate_limited', cid: expect.any(String) });
    // Exactly one answer per cid: no refused send was also accepted.
    expect(a.all('accepted').length + a.all('error').length).toBe(20);

    const b = await connect(gateway, bob);
    const bodyOf = (cid: string | undefined) => `b${cids.indexOf(cid ?? '')}`;
    expect(b.messages().map((message) => message.body)).toEqual(accepted.map((answer) => bodyOf(answer.cid)));
    expect(b.messages().map((message) => message.id)).toEqual(
      accepted.map((answer) => (answer.type === 'accepted' ? answer.id : '')),
    );
  });
});

describe('unavailable while the Redis behind the gateway is down', () => {
  let redis: OwnRedis;
  let gateway: GatewayProcess;
  beforeAll(async () => {
    redis = await startOwnRedis();
    gateway = await startGateway({ env: { ...isolatedEnv(), REDIS_URL: redis.url } });
  });
  afterAll(async () => {
    await gateway?.stop();
    await redis?.stop();
  });

  test('sends and presence get unavailable, upgrades and /readyz 503; service resumes after a restart', async () => {
    const [alice, bob] = [user('alice'), user('bob')];
    const a = await connect(gateway, alice);
    expect(await a.send(bob, 'before', 'v-0')).toMatchObject({ type: 'accepted' });

    await redis.kill();
    a.sendJson({ type: 'send', to: bob, body: 'refused', cid: 'v-1' });
    // The store fails fast or times out (commandTimeout 5 s): wait past that on a loaded machine.
    const refused = await a.waitFor(() => answerTo(a, 'v-1'), 20_000, 'the answer to v-1');
    expect(refused).toEqual({ type: 'error', code: 'unavailable', message: expect.any(String), cid: 'v-1' });
    const seen = a.frames.length;
    a.sendJson({ type: 'presence', users: [bob] });
    const presenceAnswer = await a.waitFor(
      () => a.frames.slice(seen).find((frame) => frame.type === 'presence' || frame.type === 'error'),
      20_000,
      'the presence answer',
    );
    expect(presenceAnswer).toEqual({ type: 'error', code: 'unavailable', message: expect.any(String) });

    const refusal = await eventually('a 503 upgrade', async () => {
      const outcome = await tryUpgrade(gateway.url, { authorization: `Bearer ${await tokenFor(user('c'))}` });
      return outcome.status === 503 ? outcome : undefined;
    });
    expect(refusal.contentType).toMatch(/^application\/json\b/);
    expect(jsonBody(refusal)).toEqual({ error: 'unavailable', message: expect.any(String) });
    await eventually('/readyz 503', async () =>
      (await fetch(`${gateway.httpUrl}/readyz`)).status === 503 ? true : undefined,
    );
    expect((await fetch(`${gateway.httpUrl}/healthz`)).status).toBe(200);

    await redis.restart();
    // The same connection is served again; the retry of a refused cid is safe (docs/protocol.md).
    const retried = await eventually('v-1 accepted after the restart', async () => {
      const answer = await answerAfter(
        a,
        () => a.sendJson({ type: 'send', to: bob, body: 'after', cid: 'v-1' }),
        'v-1',
      );
      if (answer.type === 'accepted') return answer;
      expect(answer).toMatchObject({ type: 'error', code: 'unavailable' });
      return undefined;
    });
    expect(retried).toMatchObject({ type: 'accepted', cid: 'v-1' });
    expect(a.all('accepted').map((answer) => answer.cid)).toEqual(['v-0', 'v-1']);
    await eventually('/readyz 200', async () =>
      (await fetch(`${gateway.httpUrl}/readyz`)).status === 200 ? true : undefined,
    );

    // Nothing accepted was lost (AOF), and the refused send was never stored.
    const b = await connect(gateway, bob);
    expect(b.messages().map((message) => message.body)).toEqual(['before', 'after']);
  });
});
