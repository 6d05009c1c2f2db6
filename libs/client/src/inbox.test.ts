/** Incoming messages: dedupe across reconnects, batched automatic acks, manual acks, handler order. */
import type { MessageFrame } from '@postbox/protocol';
import { connect, type PostboxClient } from './client';
import type { Message } from './inbox';
import type { PostboxError } from './errors';
import { FakeSockets, until, type FakeSocket } from './testing/fake-socket';

let sockets: FakeSockets;
let client: PostboxClient | undefined;

beforeEach(() => {
  sockets = new FakeSockets();
});

afterEach(async () => {
  await client?.close();
  client = undefined;
});

function start(options: Parameters<typeof connect>[2] = {}): PostboxClient {
  client = connect('ws://postbox.test/ws', 'token', {
    socket: sockets.factory,
    backoff: { baseMs: 2, maxMs: 4 },
    ackDelayMs: 5,
    ...options,
  });
  return client;
}

async function welcomed(n: number): Promise<FakeSocket> {
  const socket = await sockets.nth(n);
  socket.welcome('bob');
  return socket;
}

const message = (id: string, body = `body of ${id}`): MessageFrame => ({
  type: 'message',
  id,
  from: 'alice',
  to: 'bob',
  body,
  ts: 1,
});

const ackedIds = (socket: FakeSocket): string[] => socket.ofType('ack').flatMap((frame) => frame.ids);

test('acks are batched: several messages, one ack frame', async () => {
  const c = start();
  const seen: Message[] = [];
  c.onMessage((m) => void seen.push(m));
  const socket = await welcomed(1);
  for (const id of ['m1', 'm2', 'm3', 'm4', 'm5']) socket.serve(message(id));
  await until(() => socket.ofType('ack').length > 0, 'an ack');
  expect(socket.ofType('ack')).toEqual([{ type: 'ack', ids: ['m1', 'm2', 'm3', 'm4', 'm5'] }]);
  expect(seen.map((m) => m.id)).toEqual(['m1', 'm2', 'm3', 'm4', 'm5']);
  expect(seen[0]).toEqual({ id: 'm1', from: 'alice', to: 'bob', body: 'body of m1', ts: 1 });
});

test('an ack frame never holds more than 1,000 ids', async () => {
  const c = start();
  c.onMessage(() => undefined);
  const socket = await welcomed(1);
  for (let i = 0; i < 1_500; i += 1) socket.serve(message(`m${i}`));
  await until(() => ackedIds(socket).length === 1_500, 'every ack');
  expect(socket.ofType('ack').map((frame) => frame.ids.length)).toEqual([1_000, 500]);
});

test('a message delivered again after a reconnect reaches the handler once; an acked one is acked again', async () => {
  const c = start();
  const seen: string[] = [];
  c.onMessage((m) => void seen.push(m.id));
  const first = await welcomed(1);
  first.serve(message('m1'));
  await until(() => ackedIds(first).includes('m1'), 'the ack of m1');
  first.drop();
  const second = await welcomed(2);
  second.serve(message('m1'));
  second.serve(message('m2'));
  await until(() => ackedIds(second).includes('m2'), 'the ack of m2');
  expect(seen).toEqual(['m1', 'm2']);
  // The server sent m1 again, so our first ack was lost: it must be repeated.
  expect(ackedIds(second).sort()).toEqual(['m1', 'm2']);
});

test('acks queued while disconnected are written after the next welcome, 1,000 ids per frame', async () => {
  const c = start({ manualAck: true });
  const first = await welcomed(1);
  first.drop();
  const ids = Array.from({ length: 1_500 }, (_, i) => `m${i}`);
  c.ack(ids);
  const second = await welcomed(2);
  await until(() => ackedIds(second).length === 1_500, 'the queued acks');
  expect(second.ofType('ack').map((frame) => frame.ids.length)).toEqual([1_000, 500]);
  expect(ackedIds(second)).toEqual(ids);
  expect(ackedIds(first)).toEqual([]);
});

test('manualAck: nothing is acknowledged until ack(ids)', async () => {
  const c = start({ manualAck: true });
  const seen: string[] = [];
  c.onMessage((m) => void seen.push(m.id));
  const socket = await welcomed(1);
  socket.serve(message('m1'));
  socket.serve(message('m1'));
  await until(() => seen.length === 1, 'the message');
  await new Promise((resolve) => setTimeout(resolve, 30));
  expect(socket.ofType('ack')).toEqual([]);
  c.ack(['m1']);
  await until(() => ackedIds(socket).includes('m1'), 'the manual ack');
  expect(seen).toEqual(['m1']);
});

test('async handlers run one message at a time, in order, and the ack follows the handler', async () => {
  const c = start();
  const log: string[] = [];
  const socket = await welcomed(1);
  c.onMessage(async (m) => {
    log.push(`start ${m.id}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
    log.push(`end ${m.id} acked=${ackedIds(socket).includes(m.id)}`);
  });
  socket.serve(message('m1'));
  socket.serve(message('m2'));
  await until(() => ackedIds(socket).includes('m2'), 'the ack of m2');
  expect(log).toEqual(['start m1', 'end m1 acked=false', 'start m2', 'end m2 acked=false']);
});

test('a handler that throws leaves the message unacknowledged and reports handler_failed', async () => {
  const c = start();
  const errors: PostboxError[] = [];
  c.on('error', (error) => errors.push(error));
  let calls = 0;
  c.onMessage((m) => {
    calls += 1;
    if (m.id === 'bad') throw new Error('boom');
  });
  const socket = await welcomed(1);
  socket.serve(message('bad'));
  socket.serve(message('good'));
  await until(() => ackedIds(socket).includes('good'), 'the ack of good');
  expect(ackedIds(socket)).toEqual(['good']);
  expect(errors.map((e) => e.code)).toEqual(['handler_failed']);
  socket.serve(message('bad')); // redelivered later: handled again, since it was never acked
  await until(() => calls === 3, 'the second attempt');
});

test('messages that arrive before onMessage is called wait for the first handler', async () => {
  const c = start();
  const socket = await welcomed(1);
  socket.serve(message('early'));
  await new Promise((resolve) => setTimeout(resolve, 20));
  expect(socket.ofType('ack')).toEqual([]);
  const seen: string[] = [];
  c.onMessage((m) => void seen.push(m.id));
  await until(() => ackedIds(socket).includes('early'), 'the ack');
  expect(seen).toEqual(['early']);
});

test('close() flushes pending acks before closing', async () => {
  const c = start({ ackDelayMs: 60_000 });
  let handled = false;
  c.onMessage(() => {
    handled = true;
  });
  const socket = await welcomed(1);
  socket.serve(message('m1'));
  await until(() => handled, 'the handler');
  // The ack is queued in the microtask after the handler returns; one timer turn later it waits for the flush.
  await new Promise((resolve) => setTimeout(resolve, 0));
  expect(socket.ofType('ack')).toEqual([]);
  await c.close();
  expect(ackedIds(socket)).toEqual(['m1']);
});

describe('close() sends the acks of what was handled', () => {
  // A long ack delay: only close() itself can have written these acks.
  const slowAcks = { ackDelayMs: 60_000 };

  test('a handler that already returned (the README example): its ack goes out before the close', async () => {
    const c = start(slowAcks);
    let handled!: () => void;
    const received = new Promise<void>((resolve) => (handled = resolve));
    c.onMessage(() => handled());
    const socket = await welcomed(1);
    socket.serve(message('m1'));
    await received;
    await c.close();
    expect(socket.closedByClient).toEqual({ code: 1000, reason: 'bye' });
    expect(socket.sent.map((frame) => frame.type)).toEqual(['ack']);
    expect(ackedIds(socket)).toEqual(['m1']);
  });

  test('a handler still running, and the messages queued behind it, finish first', async () => {
    const c = start(slowAcks);
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const seen: string[] = [];
    c.onMessage(async (m) => {
      seen.push(m.id);
      if (m.id === 'm1') await gate;
    });
    const socket = await welcomed(1);
    socket.serve(message('m1'));
    socket.serve(message('m2'));
    await until(() => seen.length === 1, 'm1 in the handler');
    const closed = c.close();
    release();
    await closed;
    expect(seen).toEqual(['m1', 'm2']);
    expect(ackedIds(socket)).toEqual(['m1', 'm2']);
  });

  test('close() from inside a handler does not wait for that handler (no deadlock); it stays unacked', async () => {
    // If close() waited for its own handler it would hang for closeTimeoutMs, past jest's timeout.
    const c = start({ ...slowAcks, closeTimeoutMs: 600_000 });
    const socket = await welcomed(1);
    let closedInside = false;
    c.onMessage(async () => {
      await c.close();
      closedInside = true;
    });
    socket.serve(message('m1'));
    await until(() => closedInside, 'close() called from the handler to resolve');
    expect(ackedIds(socket)).toEqual([]);
  });
});
