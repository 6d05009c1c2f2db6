/**
 * The router consults the gateway's admission before a send touches the store: past the bound
 * (or behind), a send is refused at once with `rate_limited` and `retryAfterMs`, other frames are
 * served as before, and sends are admitted again once the work in flight is answered. The
 * per-connection budget's refusal carries its own `retryAfterMs`.
 */
import pino from 'pino';
import type { ServerFrame } from '@postbox/protocol';
import { Admission } from './admission';
import { MemoryBus } from './bus/memory';
import { MonotonicUlid } from './ids';
import { GatewayMetrics } from './metrics';
import { Router, type LiveRouting } from './router';
import { liveSession, memoryStore } from './test-support';

const noLocal: LiveRouting = { localRoute: () => -1, deliverLocal: () => undefined };

/** A memory store whose accepts wait until `release()`: Redis behind a deep queue. */
function slowStore() {
  const store = memoryStore();
  let release = (): void => undefined;
  const gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  const accept = store.accept.bind(store);
  const calls = { accepts: 0 };
  store.accept = async (request) => {
    calls.accepts += 1;
    await gate;
    return accept(request);
  };
  return { store, calls, release: () => release() };
}

function router(store: ReturnType<typeof memoryStore>, admission: Admission | undefined) {
  const metrics = new GatewayMetrics();
  const settings = admission === undefined ? { maxBodyBytes: 1000 } : { maxBodyBytes: 1000, admission };
  const logger = pino({ level: 'silent' });
  const routes = new Router(store, new MemoryBus(), new MonotonicUlid(), metrics, logger, settings, noLocal);
  return { router: routes, metrics };
}

const send = (cid: string) => JSON.stringify({ type: 'send', to: 'carol', body: `body of ${cid}`, cid });

async function until<T>(check: () => T | undefined): Promise<T> {
  for (let i = 0; i < 200; i += 1) {
    const value = check();
    if (value !== undefined) return value;
    await new Promise((resolve) => setImmediate(resolve));
  }
  throw new Error('condition not reached');
}

async function refusedBy(metrics: GatewayMetrics): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const { labels, value } of (await metrics.sendsRefused.get()).values)
    counts[String(labels.reason)] = value;
  return counts;
}

test('past the bound: refused at once, before the store, with retryAfterMs; presence is still served; admitted again after', async () => {
  const { store, calls, release } = slowStore();
  const { router: routes, metrics } = router(store, new Admission({ maxInflight: 2, targetMs: 250 }));
  const alice = liveSession('alice');
  const bob = liveSession('bob');
  routes.handle(alice.session, send('a-1'));
  routes.handle(alice.session, send('a-2'));
  routes.handle(bob.session, send('b-1'));
  routes.handle(bob.session, JSON.stringify({ type: 'presence', users: ['carol'] }));

  const refusal: ServerFrame = await until(() => bob.frames[0]);
  expect(refusal).toEqual({
    type: 'error',
    code: 'rate_limited',
    message: expect.any(String),
    cid: 'b-1',
    retryAfterMs: 250,
  });
  expect(await until(() => bob.frames[1])).toEqual({ type: 'presence', users: { carol: false } });
  expect(calls.accepts).toBe(2);
  expect(alice.frames).toEqual([]);
  expect(await refusedBy(metrics)).toEqual({ in_flight: 1 });

  release();
  await until(() => alice.frames[1]);
  expect(alice.frames.map((frame) => frame.type)).toEqual(['accepted', 'accepted']);
  routes.handle(bob.session, send('b-1'));
  expect(await until(() => bob.frames[2])).toMatchObject({ type: 'accepted', cid: 'b-1' });
});

test('behind: the oldest send in flight past the target refuses new sends, whatever the count', async () => {
  const { store, release } = slowStore();
  const clock = { now: 0 };
  const admission = new Admission({ maxInflight: 10, targetMs: 250 }, () => clock.now);
  const { router: routes, metrics } = router(store, admission);
  const alice = liveSession('alice');
  const bob = liveSession('bob');
  routes.handle(alice.session, send('a-1'));
  clock.now = 251;
  routes.handle(bob.session, send('b-1'));
  expect(await until(() => bob.frames[0])).toMatchObject({
    code: 'rate_limited',
    cid: 'b-1',
    retryAfterMs: 250,
  });
  expect(await refusedBy(metrics)).toEqual({ behind: 1 });
  release();
  await until(() => alice.frames[0]);
  routes.handle(bob.session, send('b-1'));
  expect(await until(() => bob.frames[1])).toMatchObject({ type: 'accepted', cid: 'b-1' });
});

test("the connection's own rate limit says when a send fits again", async () => {
  // One instant for the whole test, so no token refills between the sends.
  const now = jest.spyOn(Date, 'now').mockReturnValue(1_700_000_000_000);
  const { router: routes, metrics } = router(memoryStore(), undefined);
  const alice = liveSession('alice'); // 100 sends/s, bursts of 200
  for (let i = 0; i <= 200; i += 1) routes.handle(alice.session, send(`a-${i}`));
  const last = await until(() => alice.frames[200]);
  now.mockRestore();
  expect(last).toEqual({
    type: 'error',
    code: 'rate_limited',
    message: expect.any(String),
    cid: 'a-200',
    retryAfterMs: 10,
  });
  expect(await refusedBy(metrics)).toEqual({ connection_rate: 1 });
});
