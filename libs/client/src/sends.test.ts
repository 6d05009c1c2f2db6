/** send(): cid kept across reconnects, retries of retryable errors, local checks, timeouts; presence. */
import { connect, type PostboxClient } from './client';
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
    backoff: { baseMs: 4, maxMs: 8 },
    random: () => 0.5,
    ...options,
  });
  return client;
}

async function welcomed(n: number): Promise<FakeSocket> {
  const socket = await sockets.nth(n);
  socket.welcome();
  return socket;
}

test('a send unanswered when the connection drops is re-sent with the same cid after the next welcome', async () => {
  const c = start();
  const first = await welcomed(1);
  const sent = c.send('bob', 'hello');
  const [frame] = first.ofType('send');
  expect(frame).toMatchObject({
    to: 'bob',
    body: 'hello',
    cid: expect.stringMatching(/^[A-Za-z0-9._:-]{1,64}$/),
  });
  first.drop();
  const later = c.send('bob', 'second'); // written nowhere yet: no session
  const second = await welcomed(2);
  const resent = second.ofType('send');
  expect(resent.map((f) => f.cid)).toEqual([frame?.cid, expect.any(String)]);
  expect(resent.map((f) => f.body)).toEqual(['hello', 'second']);
  second.serve({ type: 'accepted', cid: frame?.cid, id: 'm1', ts: 1, status: 'sent' });
  second.serve({ type: 'accepted', cid: resent[1]?.cid, id: 'm2', ts: 2, status: 'queued' });
  await expect(sent).resolves.toEqual({ id: 'm1', ts: 1, status: 'sent' });
  await expect(later).resolves.toEqual({ id: 'm2', ts: 2, status: 'queued' });
});

test('every send gets its own cid, and a caller-chosen cid is used as given', async () => {
  const c = start();
  const socket = await welcomed(1);
  // Never answered: they reject with `closed` when the client closes after the test.
  const ignore = () => undefined;
  c.send('bob', 'a').catch(ignore);
  c.send('bob', 'b').catch(ignore);
  c.send('bob', 'c', { cid: 'order-42' }).catch(ignore);
  const cids = socket.ofType('send').map((f) => f.cid);
  expect(new Set(cids).size).toBe(3);
  expect(cids[2]).toBe('order-42');
});

test('a repeated accepted for the same cid (answer to a re-send) is ignored', async () => {
  const c = start();
  const socket = await welcomed(1);
  const sent = c.send('bob', 'x');
  const cid = socket.ofType('send')[0]?.cid;
  socket.serve({ type: 'accepted', cid, id: 'm1', ts: 1, status: 'sent' });
  socket.serve({ type: 'accepted', cid, id: 'm1', ts: 1, status: 'sent' });
  await expect(sent).resolves.toMatchObject({ id: 'm1' });
});

test('rate_limited and unavailable are retried with the same cid, then rejected after maxSendRetries', async () => {
  const c = start({ maxSendRetries: 2 });
  const socket = await welcomed(1);
  const sent = c.send('bob', 'x');
  const cid = socket.ofType('send')[0]?.cid;
  socket.serve({ type: 'error', code: 'rate_limited', message: 'slow down', cid });
  await until(() => socket.ofType('send').length === 2, 'the first retry');
  socket.serve({ type: 'error', code: 'unavailable', message: 'redis down', cid });
  await until(() => socket.ofType('send').length === 3, 'the second retry');
  socket.serve({ type: 'error', code: 'rate_limited', message: 'still', cid });
  await expect(sent).rejects.toMatchObject({ name: 'PostboxError', code: 'rate_limited', message: 'still' });
  expect(new Set(socket.ofType('send').map((f) => f.cid))).toEqual(new Set([cid]));
});

test('a refusal with retryAfterMs is retried no sooner than that, plus the jittered backoff', async () => {
  const c = start({ random: () => 0 }); // no jitter: the retry is due exactly at retryAfterMs
  const socket = await welcomed(1);
  jest.useFakeTimers();
  try {
    const sent = c.send('bob', 'x');
    const cid = socket.ofType('send')[0]?.cid;
    socket.serve({ type: 'error', code: 'rate_limited', message: 'at capacity', cid, retryAfterMs: 250 });
    jest.advanceTimersByTime(249);
    expect(socket.ofType('send')).toHaveLength(1);
    jest.advanceTimersByTime(1);
    expect(socket.ofType('send').map((f) => f.cid)).toEqual([cid, cid]);
    socket.serve({ type: 'accepted', cid, id: 'm1', ts: 1, status: 'sent' });
    await expect(sent).resolves.toMatchObject({ id: 'm1' });
  } finally {
    jest.useRealTimers();
  }
});

test('a retried send resolves when the retry is accepted', async () => {
  const c = start();
  const socket = await welcomed(1);
  const sent = c.send('bob', 'x');
  const cid = socket.ofType('send')[0]?.cid;
  socket.serve({ type: 'error', code: 'unavailable', message: 'later', cid });
  await until(() => socket.ofType('send').length === 2, 'the retry');
  socket.serve({ type: 'accepted', cid, id: 'm9', ts: 9, status: 'queued' });
  await expect(sent).resolves.toMatchObject({ id: 'm9' });
});

test('mailbox_full is not retried', async () => {
  const c = start();
  const socket = await welcomed(1);
  const sent = c.send('bob', 'x');
  socket.serve({ type: 'error', code: 'mailbox_full', message: 'full', cid: socket.ofType('send')[0]?.cid });
  await expect(sent).rejects.toMatchObject({ code: 'mailbox_full' });
  expect(socket.ofType('send')).toHaveLength(1);
});

test('an invalid recipient or an oversized body is refused locally with the protocol code', async () => {
  const c = start();
  const socket = await sockets.nth(1);
  socket.welcome('alice', 8);
  await expect(c.send('not a user id', 'x')).rejects.toMatchObject({ code: 'invalid_frame' });
  await expect(c.send('bob', 'ééééé')).rejects.toMatchObject({ code: 'too_large' });
  expect(socket.sent).toHaveLength(0);
});

test('a send with no answer rejects with timeout', async () => {
  const c = start({ sendTimeoutMs: 30 });
  await welcomed(1);
  await expect(c.send('bob', 'x')).rejects.toMatchObject({ code: 'timeout' });
});

test('presence answers are matched in order and re-asked after a reconnect', async () => {
  const c = start();
  const first = await welcomed(1);
  const one = c.presence(['bob']);
  const two = c.presence(['carol', 'dave']);
  first.serve({ type: 'presence', users: { bob: true } });
  await expect(one).resolves.toEqual({ bob: true });
  first.drop();
  const second = await welcomed(2);
  expect(second.ofType('presence')).toEqual([{ type: 'presence', users: ['carol', 'dave'] }]);
  second.serve({ type: 'presence', users: { carol: false, dave: true } });
  await expect(two).resolves.toEqual({ carol: false, dave: true });
});

test('a timed-out presence query keeps its place, so the next answer goes to the next query', async () => {
  const c = start({ presenceTimeoutMs: 20 });
  const socket = await welcomed(1);
  const late = c.presence(['bob']);
  await expect(late).rejects.toMatchObject({ code: 'timeout' });
  const next = c.presence(['carol']);
  socket.serve({ type: 'presence', users: { bob: true } });
  socket.serve({ type: 'presence', users: { carol: true } });
  await expect(next).resolves.toEqual({ carol: true });
});

test('an empty or oversized presence query is refused locally', async () => {
  const c = start();
  await welcomed(1);
  await expect(c.presence([])).rejects.toMatchObject({ code: 'invalid_frame' });
  await expect(c.presence(Array.from({ length: 101 }, (_, i) => `u${i}`))).rejects.toMatchObject({
    code: 'invalid_frame',
  });
});
