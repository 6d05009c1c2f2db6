/**
 * Router behaviour that needs two gateways sharing one store: a repeat of a cid whose first send
 * was stored but never published (its gateway died in between) is published by the repeat.
 */
import pino from 'pino';
import type { MessageBus, Routes } from './bus/bus';
import { MonotonicUlid } from './ids';
import { GatewayMetrics } from './metrics';
import { Router, type LiveRouting } from './router';
import { liveSession, memoryStore } from './test-support';
import { gw } from './store/contract-support';
import type { StoredMessage } from './store/store';

/** A bus whose publishes never complete: the gateway dies before Kafka acknowledges. */
class StuckBus implements MessageBus {
  readonly published: StoredMessage[] = [];
  async start(): Promise<void> {}
  publish(message: StoredMessage, _routes: Routes): Promise<void> {
    this.published.push(message);
    return new Promise(() => undefined);
  }
  isReady(): boolean {
    return true;
  }
  async stop(): Promise<void> {}
}

class RecordingBus extends StuckBus {
  override publish(message: StoredMessage, _routes: Routes): Promise<void> {
    this.published.push(message);
    return Promise.resolve();
  }
}

/** A gateway whose route holds none of the recipient's sessions: every live copy goes to the bus. */
function noLocal(route: number): LiveRouting {
  return {
    localRoute: () => route,
    deliverLocal: () => {
      throw new Error('nothing is local here');
    },
  };
}

async function until<T>(check: () => T | undefined): Promise<T> {
  for (let i = 0; i < 200; i += 1) {
    const value = check();
    if (value !== undefined) return value;
    await new Promise((resolve) => setImmediate(resolve));
  }
  throw new Error('condition not reached');
}

test('a retried cid publishes the message its dead first gateway stored but never published', async () => {
  const store = memoryStore();
  await store.openSession({ user: 'bob', sessionId: 'b1' }, gw('gw-2', 2));
  const logger = pino({ level: 'silent' });
  const dyingBus = new StuckBus();
  const survivorBus = new RecordingBus();
  // Gateway 1 (route 1) and 2 (route 2); bob's session is on gateway 2, so gateway 1 publishes.
  const dying = new Router(
    store,
    dyingBus,
    new MonotonicUlid(),
    new GatewayMetrics(),
    logger,
    { maxBodyBytes: 1000 },
    noLocal(1),
  );
  const survivor = new Router(
    store,
    survivorBus,
    new MonotonicUlid(),
    new GatewayMetrics(),
    logger,
    { maxBodyBytes: 1000 },
    noLocal(3),
  );

  const onDying = liveSession('alice');
  dying.handle(onDying.session, JSON.stringify({ type: 'send', to: 'bob', body: 'hi', cid: 'c-1' }));
  const stored = await until(() => dyingBus.published[0]);
  expect(onDying.frames).toEqual([]); // no accepted: the publish never completed

  const onSurvivor = liveSession('alice');
  survivor.handle(
    onSurvivor.session,
    JSON.stringify({ type: 'send', to: 'bob', body: 'ignored', cid: 'c-1' }),
  );
  const accepted = await until(() => onSurvivor.frames[0]);
  expect(accepted).toEqual({ type: 'accepted', id: stored.id, ts: stored.ts, status: 'sent', cid: 'c-1' });
  expect(survivorBus.published).toEqual([stored]);

  // Settled: a third repeat answers the same and publishes nothing more.
  survivor.handle(onSurvivor.session, JSON.stringify({ type: 'send', to: 'bob', body: 'again', cid: 'c-1' }));
  expect(await until(() => onSurvivor.frames[1])).toEqual(accepted);
  expect(survivorBus.published).toHaveLength(1);
});

test('a bug while answering becomes an internal error frame with the cid, and later frames are still answered', async () => {
  const store = memoryStore();
  await store.openSession({ user: 'bob', sessionId: 'b1' }, gw('gw-1', 2));
  class BrokenBus extends RecordingBus {
    override isReady(): boolean {
      throw new Error('a bug');
    }
  }
  const router = new Router(
    store,
    new BrokenBus(),
    new MonotonicUlid(),
    new GatewayMetrics(),
    pino({ level: 'silent' }),
    { maxBodyBytes: 1000 },
    noLocal(1),
  );
  const { session, frames } = liveSession('alice');
  router.handle(session, JSON.stringify({ type: 'send', to: 'bob', body: 'hi', cid: 'c-9' }));
  router.handle(session, JSON.stringify({ type: 'ping' }));
  await until(() => frames[1]);
  expect(frames[0]).toMatchObject({ type: 'error', code: 'internal', cid: 'c-9' });
  expect(frames[1]).toMatchObject({ type: 'pong' });
});
