/**
 * SIGKILL of a gateway while traffic flows, through real nginx to two real gateways on real
 * Redis and Kafka. Clients reconnect through nginx, which fails over to the survivor on its own
 * (`proxy_next_upstream error`: the dead gateway refuses connections). Every `accepted` is
 * delivered, a cid retried after the reconnect yields one id, and a user held only by the dead
 * gateway reads offline once its lease lapses (PRESENCE_LEASE_MS=6000 in tests), no cleanup job.
 */
import Redis from 'ioredis';
import { TestClient } from '../support/client';
import { isolatedEnv, startGateway, type GatewayProcess } from '../support/gateways';
import { redisUrl } from '../support/infra';
import { startNginx, type RunningNginx } from '../support/nginx';
import {
  CidSender,
  connectAs,
  connectRetrying,
  firstArrivals,
  repeatsWithinConnections,
  uniqueUser,
  type Delivered,
} from '../support/streams';

const LEASE_MS = 6000;
const SENDS_PER_SENDER = 300;

let gateways: GatewayProcess[] = [];
let keyPrefix = '';
let edge: RunningNginx;
const clients: TestClient[] = [];
/** Set when the test ends, however it ends: the background loops stop reconnecting. */
let finished = false;
const background: Promise<unknown>[] = [];

beforeAll(async () => {
  const isolated = isolatedEnv();
  keyPrefix = isolated.REDIS_KEY_PREFIX ?? '';
  const env = { ...isolated, PRESENCE_LEASE_MS: String(LEASE_MS), PRESENCE_RENEW_MS: '1000' };
  gateways = await Promise.all([startGateway({ env }), startGateway({ env })]);
  edge = await startNginx({ upstreamPorts: gateways.map((gateway) => gateway.port) });
});

afterAll(async () => {
  finished = true;
  await Promise.all(clients.map((client) => client.close()));
  await Promise.allSettled(background);
  await edge?.stop();
  await Promise.all(gateways.map((gateway) => gateway.stop()));
});

const gatewayOf = (client: TestClient | undefined): string => {
  const welcome = client?.frames[0];
  return welcome?.type === 'welcome' ? welcome.gateway : '';
};

/** A recipient that acks what it gets and reconnects through nginx whenever its socket dies. */
class Recipient {
  readonly connections: TestClient[] = [];
  constructor(readonly user: string) {}

  get current(): TestClient | undefined {
    return this.connections[this.connections.length - 1];
  }

  async connect(): Promise<void> {
    const client = await connectRetrying(this.user, edge.url);
    clients.push(client);
    this.connections.push(client);
    // Ack each message as it arrives (after it is recorded), as a real client would.
    client.ws.on('message', () => {
      const last = client.frames[client.frames.length - 1];
      if (last?.type === 'message' && client.closed === undefined) {
        client.sendJson({ type: 'ack', ids: [last.id] });
      }
    });
  }

  async keepConnected(): Promise<void> {
    while (!finished) {
      const current = this.current;
      if (current !== undefined && current.closed === undefined) {
        await current.waitFor(() => (finished || current.closed !== undefined ? true : undefined), 60_000);
      } else {
        await this.connect();
      }
    }
  }

  delivered(): Delivered[][] {
    return this.connections.map((client) => client.messages());
  }
}

/** Streams to the recipients in turn; after a lost connection, reconnects and resends the unanswered. */
async function streamWithRetries(sender: CidSender, recipients: string[]): Promise<void> {
  for (let i = 0; i < SENDS_PER_SENDER; i += 1) {
    if (finished) return;
    if (sender.client?.closed !== undefined) await reconnectSender(sender);
    sender.send(recipients[i % recipients.length] ?? '');
    if (i % 5 === 4) await new Promise((wake) => setTimeout(wake, 25)); // ~200 sends/s, under the limit
  }
  while (!finished) {
    await sender.settle(60_000);
    if (sender.unanswered() === 0) return;
    await reconnectSender(sender);
  }
}

async function reconnectSender(sender: CidSender): Promise<void> {
  const client = await sender.connect(edge.url);
  clients.push(client);
  await client.next('synced', 30_000);
  sender.resendUnanswered();
}

/** Waits until the user's (single) lease expiry in Redis moves: the gateway renewed it. */
async function leaseRenewed(user: string): Promise<void> {
  const redis = new Redis(redisUrl(), { lazyConnect: true });
  try {
    const key = `${keyPrefix}:{u:${user}}:sessions`;
    const expiry = async () => Number((await redis.zrange(key, 0, 0, 'WITHSCORES'))[1] ?? 0);
    const first = await expiry();
    const deadline = Date.now() + 15_000;
    while ((await expiry()) === first) {
      if (Date.now() > deadline) throw new Error(`the lease of ${user} was never renewed`);
      await new Promise((wake) => setTimeout(wake, 100));
    }
  } finally {
    redis.disconnect();
  }
}

async function presenceOf(observer: TestClient, user: string): Promise<boolean | undefined> {
  observer.sendJson({ type: 'presence', users: [user] });
  return (await observer.next('presence')).users[user];
}

test('SIGKILL of a gateway mid-traffic: every accepted id is delivered, retried cids yield one id, the dead gateway’s users go offline within the lease', async () => {
  const senders = [new CidSender(uniqueUser('s1')), new CidSender(uniqueUser('s2'))];
  const recipients = [1, 2, 3, 4].map((n) => new Recipient(uniqueUser(`r${n}`)));
  // Sequential connects: nginx's least_conn spreads them 3 and 3 over the two gateways.
  for (const sender of senders) clients.push(await sender.connect(edge.url));
  for (const recipient of recipients) await recipient.connect();
  const placed = [...senders.map((s) => gatewayOf(s.client)), ...recipients.map((r) => gatewayOf(r.current))];
  const victim = gateways.find((gateway) => gateway.id === gatewayOf(senders[0]?.client));
  const survivor = gateways.find((gateway) => gateway !== victim);
  if (victim === undefined || survivor === undefined) throw new Error('no victim');
  expect(new Set(placed).size).toBe(2);
  expect(recipients.some((r) => gatewayOf(r.current) === victim.id)).toBe(true);

  // A user held only by the victim, watched by an observer on the survivor.
  const zed = uniqueUser('zed');
  clients.push(await connectAs(zed, victim.url));
  const observer = await connectAs(uniqueUser('observer'), survivor.url);
  clients.push(observer);
  expect(await presenceOf(observer, zed)).toBe(true);
  // Kill only after a renewal: a lease renewed too long would otherwise go unnoticed.
  await leaseRenewed(zed);

  const listening = recipients.map((r) => r.keepConnected());
  const streams = senders.map((sender) =>
    streamWithRetries(
      sender,
      recipients.map((r) => r.user),
    ),
  );
  background.push(...listening, ...streams);
  await senders[0]?.client?.waitFor(
    () => ((senders[0]?.accepted().length ?? 0) >= 100 ? true : undefined),
    30_000,
  );
  victim.kill('SIGKILL');
  const killedAt = Date.now();
  await victim.exited;

  // Presence: the lease of zed's session lapses within LEASE_MS of its last renewal. The margin
  // stays under 2 × LEASE_MS, when the whole sessions key expires and would hide a too-long lease.
  const deadline = killedAt + LEASE_MS + 4000;
  let online = await presenceOf(observer, zed);
  while (online === true && Date.now() < deadline) {
    await new Promise((wake) => setTimeout(wake, 250));
    online = await presenceOf(observer, zed);
  }
  expect({ online, withinLease: Date.now() <= deadline + 1000 }).toEqual({
    online: false,
    withinLease: true,
  });

  await Promise.all(streams);
  finished = true;
  await Promise.all(listening);
  // Each recipient's last connection: whatever is still unacknowledged arrives with its sync.
  for (const recipient of recipients) {
    await recipient.current?.close();
    await recipient.connect();
    await recipient.current?.next('synced', 30_000);
  }

  for (const sender of senders) {
    // Retried cids: one id each, however many times they were answered.
    const split = [...sender.acceptedIds].filter(([, ids]) => ids.size !== 1);
    expect(split).toEqual([]);
    expect(sender.accepted()).toHaveLength(SENDS_PER_SENDER);
    expect(sender.refused()).toEqual([]);
  }
  for (const recipient of recipients) {
    const connections = recipient.delivered();
    expect(repeatsWithinConnections(connections)).toEqual([]);
    for (const sender of senders) {
      const got = new Set(firstArrivals(connections, sender.user).map((m) => m.id));
      const missing = sender.accepted(recipient.user).filter((a) => !got.has(a.id));
      expect({ recipient: recipient.user, sender: sender.user, missing }).toMatchObject({ missing: [] });
      // One body (= one cid) never arrives under two ids.
      const bodies = firstArrivals(connections, sender.user).map((m) => m.body);
      expect(new Set(bodies).size).toBe(bodies.length);
    }
  }
  // The victim's clients really were cut off and came back.
  expect(senders[0]?.client !== undefined && gatewayOf(senders[0].client)).toBe(survivor.id);
});
