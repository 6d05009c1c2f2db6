/** The connection life cycle against a scripted fake server: reconnects, backoff, fatal refusals. */
import { connect, type PostboxClient } from './client';
import type { PostboxError } from './errors';
import { FakeSockets, until } from './testing/fake-socket';

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
  client = connect('ws://postbox.test/ws', 'token-1', {
    socket: sockets.factory,
    backoff: { baseMs: 8, maxMs: 32, tryAgainLaterMs: 50 },
    random: () => 0.5,
    ...options,
  });
  return client;
}

function record<T>(subscribe: (push: (value: T) => void) => void): T[] {
  const values: T[] = [];
  subscribe((value) => values.push(value));
  return values;
}

test('emits open with the welcome and synced after it', async () => {
  const c = start();
  const opened = c.opened();
  const synced = new Promise((resolve) => c.once('synced', resolve));
  const socket = await sockets.nth(1);
  expect(socket.token).toBe('token-1');
  socket.welcome('alice');
  expect(await opened).toMatchObject({ type: 'welcome', user: 'alice' });
  socket.serve({ type: 'synced' });
  await synced;
});

test('reconnects with exponential backoff and full jitter, and resets the backoff after a welcome', async () => {
  const c = start();
  const delays = record<{ attempt: number; delayMs: number }>((push) => c.on('reconnecting', push));
  (await sockets.nth(1)).welcome();
  (await sockets.nth(1)).drop();
  (await sockets.nth(2)).drop();
  (await sockets.nth(3)).drop();
  (await sockets.nth(4)).drop();
  const fifth = await sockets.nth(5);
  fifth.welcome();
  fifth.drop();
  await sockets.nth(6);
  // random 0.5 of ceilings 8, 16, 32, 32 (maxMs), then back to 8 after the welcome.
  expect(delays).toEqual([
    { attempt: 1, delayMs: 4 },
    { attempt: 2, delayMs: 8 },
    { attempt: 3, delayMs: 16 },
    { attempt: 4, delayMs: 16 },
    { attempt: 1, delayMs: 4 },
  ]);
});

test('honours 1012 (come back soon) and 1013 (back off longer)', async () => {
  const c = start();
  const delays = record<{ attempt: number; delayMs: number }>((push) => c.on('reconnecting', push));
  const first = await sockets.nth(1);
  first.welcome();
  first.drop(1012, 'draining');
  const second = await sockets.nth(2);
  second.welcome();
  second.drop(1013, 'slow_consumer');
  await sockets.nth(3);
  expect(delays.map((event) => event.delayMs)).toEqual([4, 54]);
});

test('a 401 stops reconnecting and rejects what is pending with unauthorized', async () => {
  const c = start();
  const errors = record<PostboxError>((push) => c.on('error', push));
  const closes = record<{ reconnect: boolean; httpStatus?: number }>((push) => c.on('close', push));
  const sent = c.send('bob', 'hi');
  const first = await sockets.nth(1);
  first.welcome();
  first.drop();
  (await sockets.nth(2)).refuse(401, 'token expired');
  await expect(sent).rejects.toMatchObject({ code: 'unauthorized', status: 401 });
  expect(errors.map((error) => error.code)).toEqual(['unauthorized']);
  expect(closes.at(-1)).toMatchObject({ reconnect: false, httpStatus: 401 });
  await new Promise((resolve) => setTimeout(resolve, 100));
  expect(sockets.opened).toHaveLength(2);
});

test('without a visible status, gives up after maxAttemptsBeforeWelcome failures if never welcomed', async () => {
  const c = start({ maxAttemptsBeforeWelcome: 3 });
  const opened = c.opened();
  for (let n = 1; n <= 3; n += 1) (await sockets.nth(n)).drop(1006, 'refused');
  await expect(opened).rejects.toMatchObject({ code: 'closed' });
  await new Promise((resolve) => setTimeout(resolve, 100));
  expect(sockets.opened).toHaveLength(3);
});

test('keeps reconnecting after many failures once a session has been welcomed', async () => {
  start({ maxAttemptsBeforeWelcome: 2 });
  (await sockets.nth(1)).welcome();
  (await sockets.nth(1)).drop();
  for (let n = 2; n <= 4; n += 1) (await sockets.nth(n)).drop();
  await sockets.nth(5);
});

test('asks a token function again for every attempt', async () => {
  let n = 0;
  client = connect('ws://postbox.test/ws', async () => `token-${++n}`, {
    socket: sockets.factory,
    backoff: { baseMs: 1, maxMs: 1 },
  });
  (await sockets.nth(1)).drop(1008, 'token_expired');
  expect((await sockets.nth(2)).token).toBe('token-2');
});

test('close() closes the socket with 1000, emits a final close and rejects pending sends with closed', async () => {
  const c = start();
  const socket = await sockets.nth(1);
  socket.welcome();
  const sent = c.send('bob', 'hi');
  const closes = record<{ reconnect: boolean }>((push) => c.on('close', push));
  await c.close();
  await expect(sent).rejects.toMatchObject({ code: 'closed' });
  expect(socket.closedByClient).toEqual({ code: 1000, reason: 'bye' });
  expect(closes).toEqual([expect.objectContaining({ reconnect: false })]);
  await expect(c.send('bob', 'late')).rejects.toMatchObject({ code: 'closed' });
});

test('a frame outside the protocol is reported as an error event, the connection stays', async () => {
  const c = start();
  const errors = record<PostboxError>((push) => c.on('error', push));
  const socket = await sockets.nth(1);
  socket.welcome();
  socket.serveRaw('{"type":"surprise"}');
  await until(() => errors.length === 1, 'the error event');
  expect(errors[0]?.code).toBe('protocol');
  expect(socket.closedByClient).toBeUndefined();
});
