/**
 * Order and at-least-once delivery while the recipient comes and goes: through real nginx (the
 * sender) to two real gateways on real Redis and Kafka. The recipient alternates gateways by
 * connecting to each directly (nginx's least_conn would not alternate on demand).
 */
import { TestClient } from '../support/client';
import type { GatewayProcess } from '../support/gateways';
import type { RunningNginx } from '../support/nginx';
import { startTwoGatewayEdge, stopTwoGatewayEdge } from '../support/edge';
import { seededRandom, streamSends } from '../support/pacing';
import {
  ackAndConfirm,
  CidSender,
  connectAs,
  firstArrivals,
  repeatsWithinConnections,
  uniqueUser,
  type Delivered,
} from '../support/streams';

let gateways: GatewayProcess[] = [];
let edge: RunningNginx;
const clients: TestClient[] = [];

beforeAll(async () => {
  // A burst smaller than the spikes the sender makes, so some sends are refused `rate_limited`;
  // small mailbox pages, so a sync spans many Redis reads and live messages arrive during it.
  ({ gateways, edge } = await startTwoGatewayEdge({
    RATE_SENDS_PER_SECOND: '400',
    RATE_SEND_BURST: '30',
    MAILBOX_PAGE_SIZE: '10',
  }));
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close()));
});

afterAll(async () => {
  await stopTwoGatewayEdge(gateways, edge);
});

function gatewayUrl(index: number): string {
  const gateway = gateways[index % gateways.length];
  if (gateway === undefined) throw new Error('no gateway');
  return gateway.url;
}

async function senderVia(user: string, url: string): Promise<CidSender> {
  const sender = new CidSender(user);
  const client = await sender.connect(url);
  clients.push(client);
  await client.next('synced');
  return sender;
}

type Mode = 'mid-sync' | 'some' | 'while';

/** One connection of the recipient: how long it stays, what it acks, how it leaves. */
async function recipientRound(
  user: string,
  round: number,
  mode: Mode,
  random: () => number,
  sender: CidSender,
): Promise<{ messages: Delivered[]; closedMidSync: boolean }> {
  const client = await connectAs(user, gatewayUrl(round));
  clients.push(client);
  const synced = () => client.frames.some((frame) => frame.type === 'synced');
  if (mode === 'mid-sync') {
    // Leave at the first mailbox message, long before the last page is read.
    await client.waitFor(() => (client.messages().length > 0 || synced() ? true : undefined), 30_000);
  } else {
    const want = client.messages().length + 10 + Math.floor(random() * 120);
    const progress = sender.records.size + 150;
    await client
      .waitFor(
        () => (client.messages().length >= want || sender.records.size >= progress ? true : undefined),
        mode === 'while' ? 3_000 : 1_500,
      )
      .catch(() => undefined); // the stream may have ended: leave anyway
  }
  const closedMidSync = !synced();
  const messages = [...client.messages()];
  const ackShare = [0, 0.5, 1][Math.floor(random() * 3)] ?? 0;
  const acked = messages.filter(() => random() < ackShare).map((message) => message.id);
  if (acked.length > 0 && random() < 0.5) await ackAndConfirm(client, acked);
  else if (acked.length > 0) client.sendJson({ type: 'ack', ids: acked.slice(0, 1000) });
  // Half the time the socket just vanishes (no close frame), like a phone losing its network.
  if (random() < 0.5) client.ws.terminate();
  else client.ws.close(1000);
  await client.waitClosed().catch(() => undefined);
  // Frames that arrived while closing were delivered on this connection too.
  return { messages: client.messages(), closedMidSync };
}

test('1,000 pipelined sends reach a recipient that keeps reconnecting: all, once per connection, in accept order', async () => {
  const seed = Date.now() % 1_000_000;
  const random = seededRandom(seed);
  const [alice, bob] = [uniqueUser('alice'), uniqueUser('bob')];
  const sender = await senderVia(alice, edge.url);
  const connections: Delivered[][] = [];
  let done = false;
  const sending = streamSends(sender, bob, {
    count: 1000,
    perTick: 8,
    tickMs: 40,
    burstEvery: 12,
    burstSize: 60,
  }).finally(() => (done = true));
  const modes: Mode[] = ['some', 'while', 'mid-sync', 'some', 'mid-sync', 'while', 'some', 'mid-sync'];
  let midSync = 0;
  for (const [round, mode] of modes.entries()) {
    // Offline for a while: the sender keeps going, the mailbox fills.
    const offlineUntil = sender.records.size + 40 + Math.floor(random() * 80);
    while (!done && sender.records.size < offlineUntil) await new Promise((wake) => setTimeout(wake, 20));
    const result = await recipientRound(bob, round, mode, random, sender);
    connections.push(result.messages);
    if (mode === 'mid-sync' && result.closedMidSync && result.messages.length > 0) midSync += 1;
  }
  await sending;
  // A last connection: everything accepted and not yet acknowledged comes with the sync.
  const last = await connectAs(bob, edge.url);
  clients.push(last);
  await last.next('synced', 30_000);
  connections.push(last.messages());

  const accepted = sender.accepted(bob);
  const refused = sender.refused();
  const context = `seed ${seed}, ${connections.length} connections, ${midSync} closed mid-sync`;
  expect({ context, answered: accepted.length + refused.length }).toEqual({ context, answered: 1000 });
  expect(refused.length).toBeGreaterThan(0);
  expect(new Set(refused.map((r) => r.code))).toEqual(new Set(['rate_limited']));
  expect({ context, repeats: repeatsWithinConnections(connections) }).toEqual({ context, repeats: [] });
  const arrived = firstArrivals(connections, alice);
  // Equality covers all three: every accepted id arrived, in accept order, and nothing else did.
  expect({ context, order: arrived.map((m) => m.id) }).toEqual({ context, order: accepted.map((a) => a.id) });
  const refusedBodies = new Set(refused.map((r) => r.body));
  expect(connections.flat().filter((m) => refusedBodies.has(m.body))).toEqual([]);
  expect(midSync).toBeGreaterThan(0);
});

test('offline → online while the sender keeps sending: one connection gets mailbox, synced, then live, in order', async () => {
  const [alice, bob] = [uniqueUser('alice'), uniqueUser('bob')];
  const sender = await senderVia(alice, gatewayUrl(0));
  const sending = streamSends(sender, bob, { count: 400, perTick: 6, tickMs: 30 });
  await sender.client?.waitFor(() => (sender.accepted(bob).length >= 120 ? true : undefined), 30_000);
  // The other gateway: its live messages come over Kafka while the mailbox pages are read.
  const b = await connectAs(bob, gatewayUrl(1));
  clients.push(b);
  await sending;
  const ids = sender.accepted(bob).map((a) => a.id);
  expect(ids.length).toBeGreaterThan(300);
  await b.waitFor(() => (b.messages().length >= ids.length ? true : undefined), 30_000, 'every message');
  expect(b.messages().map((m) => m.id)).toEqual(ids);
  const types = b.frames.map((frame) => frame.type);
  expect(types.filter((type) => type === 'synced')).toHaveLength(1);
  // The hand-over happened mid-stream: mailbox messages before synced, live ones after it.
  expect(types.indexOf('synced')).toBeGreaterThan(types.indexOf('message'));
  expect(types.lastIndexOf('message')).toBeGreaterThan(types.indexOf('synced'));
});

test('a device that syncs while another device of the user acks the live messages still gets synced and the live stream', async () => {
  const [alice, carol, bob] = [uniqueUser('alice'), uniqueUser('carol'), uniqueUser('bob')];
  // A backlog from carol that nobody acks: every sync of bob's reads it page by page.
  const backlog = await senderVia(carol, gatewayUrl(0));
  await streamSends(backlog, bob, { count: 400, perTick: 20, tickMs: 60 });
  const live = await connectAs(bob, gatewayUrl(0));
  clients.push(live);
  await live.next('synced', 30_000);
  // The first device acks alice's messages the moment they arrive.
  live.ws.on('message', (data) => {
    const frame = JSON.parse(data.toString()) as { type: string; from?: string; id?: string };
    if (frame.type === 'message' && frame.from === alice) live.sendJson({ type: 'ack', ids: [frame.id] });
  });
  const sender = await senderVia(alice, gatewayUrl(0));
  for (let round = 0; round < 6; round += 1) {
    const second = await connectAs(bob, gatewayUrl(1));
    clients.push(second);
    // A few live messages while the second device reads the backlog.
    sender.send(bob);
    sender.send(bob);
    await sender.settle();
    await second.next('synced', 20_000);
    const after = sender.send(bob);
    await sender.settle();
    await second.waitFor(
      () => (second.messages().some((m) => m.body === `body of ${after}`) ? true : undefined),
      20_000,
      'the live message sent after synced',
    );
    await second.close();
  }
});
