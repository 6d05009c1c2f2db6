/** Live delivery: seq order across gateways, no repeats on a connection, gaps filled from the mailbox. */
import pino from 'pino';
import type { MessageFrame } from '@postbox/protocol';
import { LiveDelivery } from './live';
import { GatewayMetrics } from './metrics';
import { liveSession, memoryStore } from './test-support';
import type { StoredMessage } from './store/store';

function setup(maxHeld = 100) {
  const store = memoryStore();
  const live = new LiveDelivery(store, new GatewayMetrics(), pino({ level: 'silent' }), {
    gapWaitMs: 1000,
    maxHeld,
    pageSize: 2,
    catchUpBatch: 2,
    lowWaterBytes: 1 << 20,
  });
  const { session, frames, closes, flush } = liveSession('bob');
  const delivered = () => {
    flush(); // what this turn queued
    return frames
      .filter((frame): frame is MessageFrame => frame.type === 'message')
      .map((frame) => frame.body);
  };
  /** Stores a message for bob the way the router does (so it has a seq and sits in the mailbox). */
  const accept = async (body: string): Promise<StoredMessage> => {
    const result = await store.accept({ id: `id-${body}`, from: 'alice', to: 'bob', body, ts: Date.now() });
    if (result.kind !== 'stored') throw new Error('not stored');
    return result.message;
  };
  const settle = () => new Promise((resolve) => setImmediate(resolve));
  return { store, live, session, delivered, closes, accept, settle };
}

test('writes in seq order and never twice on one connection', async () => {
  const { live, session, delivered, accept } = setup();
  const [m1, m2] = [await accept('m1'), await accept('m2')];
  live.deliver(session, m1);
  live.deliver(session, m1); // a bus redelivery
  live.deliver(session, m2);
  expect(delivered()).toEqual(['m1', 'm2']);
});

test('holds a message that overtook a missing seq until that one arrives', async () => {
  const { live, session, delivered, accept } = setup();
  const [m1, m2, m3] = [await accept('m1'), await accept('m2'), await accept('m3')];
  live.deliver(session, m3);
  live.deliver(session, m2);
  expect(delivered()).toEqual([]);
  live.deliver(session, m1);
  expect(delivered()).toEqual(['m1', 'm2', 'm3']);
});

test('fills a gap that stays open from the mailbox, in order, across pages', async () => {
  const { live, session, delivered, accept, settle } = setup();
  // m1..m3 were accepted but never published (Kafka down, or their gateway died).
  await accept('m1');
  await accept('m2');
  await accept('m3');
  live.deliver(session, await accept('m4'));
  expect(delivered()).toEqual([]);
  live.repairGaps(Date.now()); // too early: normal reordering gets its chance
  await settle();
  expect(delivered()).toEqual([]);
  live.repairGaps(Date.now() + 1000);
  await settle();
  expect(delivered()).toEqual(['m1', 'm2']); // one page of two
  live.repairGaps(Date.now() + 1000);
  await settle();
  expect(delivered()).toEqual(['m1', 'm2', 'm3', 'm4']);
  live.deliver(session, await accept('m5'));
  expect(delivered()).toEqual(['m1', 'm2', 'm3', 'm4', 'm5']);
});

test('skips a missing seq that was acknowledged elsewhere', async () => {
  const { store, live, session, delivered, accept, settle } = setup();
  const m1 = await accept('m1');
  await store.ack('bob', [m1.id]); // another device of bob acked it
  live.deliver(session, await accept('m2'));
  live.repairGaps(Date.now() + 1000);
  await settle();
  expect(delivered()).toEqual(['m2']);
});

test('closes a session whose gap cannot be repaired before too much is held', async () => {
  const { live, session, closes, accept } = setup(2);
  await accept('m1');
  for (const body of ['m2', 'm3', 'm4']) live.deliver(session, await accept(body));
  expect(closes).toEqual([1011]);
});

test('catchUp writes what was stored but never published, in order, once', async () => {
  const { live, session, delivered, accept } = setup();
  live.deliver(session, await accept('m1'));
  // Stored while the bus was down: never delivered live, and no later message shows the gap.
  await accept('m2');
  await accept('m3');
  await accept('m4');
  expect(delivered()).toEqual(['m1']);
  await live.catchUp([session]);
  expect(delivered()).toEqual(['m1', 'm2', 'm3', 'm4']);
  // A late bus copy of a caught-up message is not written again.
  live.deliver(session, { id: 'id-m3', from: 'alice', to: 'bob', body: 'm3', ts: Date.now(), seq: 3 });
  await live.catchUp([session]);
  expect(delivered()).toEqual(['m1', 'm2', 'm3', 'm4']);
});
