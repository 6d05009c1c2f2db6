/**
 * The SDK end to end, through real nginx to two real gateways on real Redis and Kafka:
 * round trip with automatic acks, no redelivery of what was acked, presence, and a refused
 * token that stops reconnecting.
 */
import { randomBytes } from 'node:crypto';
import {
  connect,
  type ConnectOptions,
  type Message,
  type PostboxClient,
  type PostboxError,
} from '@postbox/client';
import { nodeSocket } from '../../libs/client/src/node-socket';
import type { SocketFactory } from '../../libs/client/src/socket';
import { TestClient } from '../support/client';
import type { GatewayProcess } from '../support/gateways';
import type { RunningNginx } from '../support/nginx';
import { startTwoGatewayEdge, stopTwoGatewayEdge } from '../support/edge';
import { tokenFor } from '../support/tokens';

let gateways: GatewayProcess[] = [];
let edge: RunningNginx;
const clients: PostboxClient[] = [];

beforeAll(async () => {
  ({ gateways, edge } = await startTwoGatewayEdge());
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close()));
});

afterAll(async () => {
  await stopTwoGatewayEdge(gateways, edge);
});

const user = (name: string) => `${name}-${randomBytes(4).toString('hex')}`;
const fast: ConnectOptions = { backoff: { baseMs: 50, maxMs: 500 } };

function open(token: string | (() => Promise<string>), options: ConnectOptions = {}): PostboxClient {
  const client = connect(`${edge.url}/ws`, token, { ...fast, ...options });
  clients.push(client);
  return client;
}

/** Counts the connection attempts a client makes. */
function counting(): { factory: SocketFactory; attempts: () => number } {
  let attempts = 0;
  return {
    factory: (url, token, events) => {
      attempts += 1;
      return nodeSocket(url, token, events);
    },
    attempts: () => attempts,
  };
}

function until<T>(check: () => T | undefined | false, what: string, timeoutMs = 20_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const deadline = Date.now() + timeoutMs;
    const poll = (): void => {
      const value = check();
      if (value !== undefined && value !== false) return resolve(value);
      if (Date.now() > deadline) return reject(new Error(`timed out waiting for ${what}`));
      setTimeout(poll, 20);
    };
    poll();
  });
}

test('alice sends to bob, bob receives it once with auto-ack, and a reconnect does not redeliver it', async () => {
  const [alice, bob] = [user('alice'), user('bob')];
  const b = open(await tokenFor(bob));
  const received: Message[] = [];
  b.onMessage((message) => void received.push(message));
  await new Promise((resolve) => b.once('synced', resolve));
  const a = open(await tokenFor(alice));
  const accepted = await a.send(bob, 'hello bob');
  expect(accepted).toMatchObject({ status: 'sent', id: expect.any(String), ts: expect.any(Number) });
  await until(() => received.length === 1, 'the message');
  expect(received[0]).toEqual({ id: accepted.id, from: alice, to: bob, body: 'hello bob', ts: accepted.ts });

  const resynced = new Promise((resolve) => b.once('synced', resolve));
  b.reconnect();
  await resynced;
  expect(received).toHaveLength(1);
  // The server itself no longer holds it: the SDK's ack reached the mailbox, not just its dedupe.
  const raw = await TestClient.connect(edge.url, { token: await tokenFor(bob) });
  await raw.next('synced');
  expect(raw.messages()).toEqual([]);
  await raw.close();
});

test('messages queued while bob was offline arrive in order when he connects, then are acked', async () => {
  const [alice, bob] = [user('alice'), user('bob')];
  const a = open(await tokenFor(alice));
  const ids: string[] = [];
  for (const body of ['one', 'two', 'three']) ids.push((await a.send(bob, body)).id);
  const b = open(await tokenFor(bob));
  const received: string[] = [];
  b.onMessage((message) => void received.push(message.id));
  await until(() => received.length === 3, 'the mailbox');
  expect(received).toEqual(ids);
  await b.close();
  const raw = await TestClient.connect(edge.url, { token: await tokenFor(bob) });
  await raw.next('synced');
  expect(raw.messages()).toEqual([]);
  await raw.close();
});

test('presence tells who is online', async () => {
  const [alice, bob, carol] = [user('alice'), user('bob'), user('carol')];
  const b = open(await tokenFor(bob));
  await b.opened();
  const a = open(await tokenFor(alice));
  expect(await a.presence([bob, carol])).toEqual({ [bob]: true, [carol]: false });
});

test('a 401 stops reconnecting and says why', async () => {
  const attempts = counting();
  const client = open(await tokenFor(user('mallory'), { secret: 'not-the-gateways-secret-0123456789' }), {
    socket: attempts.factory,
  });
  const errors: PostboxError[] = [];
  client.on('error', (error) => errors.push(error));
  await expect(client.opened()).rejects.toMatchObject({ code: 'closed', status: 401 });
  expect(errors).toEqual([expect.objectContaining({ code: 'unauthorized', status: 401 })]);
  await expect(client.send('bob', 'hi')).rejects.toMatchObject({ code: 'closed' });
  // Wait longer than a few backoff rounds: no second attempt.
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  expect(attempts.attempts()).toBe(1);
});

test('an expired fixed token ends the client at the 1008 close, without reconnecting', async () => {
  const attempts = counting();
  const client = open(await tokenFor(user('eve'), { expiresIn: 2 }), { socket: attempts.factory });
  const closes: { code: number; reason: string; reconnect: boolean }[] = [];
  client.on('close', (event) => closes.push(event));
  const errors: PostboxError[] = [];
  client.on('error', (error) => errors.push(error));
  await client.opened();
  await until(() => closes.length > 0, 'the close');
  expect(closes).toEqual([{ code: 1008, reason: 'token_expired', reconnect: false }]);
  expect(errors.map((error) => error.code)).toEqual(['unauthorized']);
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  expect(attempts.attempts()).toBe(1);
});

test('a token function is asked again after expiry, and the client carries on', async () => {
  const eve = user('eve');
  let minted = 0;
  const client = open(async () => tokenFor(eve, { expiresIn: minted++ === 0 ? 2 : 3600 }));
  const first = await client.opened();
  const reopened = new Promise((resolve) => client.once('open', resolve));
  await reopened;
  expect(minted).toBe(2);
  expect(client.welcome?.session).not.toBe(first.session);
});
