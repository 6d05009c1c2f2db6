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
import { deliveryProblems, Recipient, streamWithRetries, type Traffic } from '../support/reconnecting';
import { CidSender, connectAs, uniqueUser } from '../support/streams';

const LEASE_MS = 6000;
const SENDS_PER_SENDER = 300;
const BURST = 60;

let gateways: GatewayProcess[] = [];
let keyPrefix = '';
let edge: RunningNginx;
const clients: TestClient[] = [];
/** Set when the test ends, however it ends: the background loops stop reconnecting. */
let finished = false;
const background: Promise<unknown>[] = [];
const traffic: Traffic = {
  get url() {
    return edge.url;
  },
  stopped: () => finished,
  track: (client) => clients.push(client),
};

beforeAll(async () => {
  const isolated = isolatedEnv();
  keyPrefix = isolated.REDIS_KEY_PREFIX ?? '';
  // The stream (~200 sends/s) plus the burst stay under the rate limit: no send is refused.
  const env = {
    ...isolated,
    PRESENCE_LEASE_MS: String(LEASE_MS),
    PRESENCE_RENEW_MS: '1000',
    RATE_SENDS_PER_SECOND: '1000',
  };
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
  const recipients = [1, 2, 3, 4].map((n) => new Recipient(uniqueUser(`r${n}`), traffic));
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
      SENDS_PER_SENDER,
      traffic,
    ),
  );
  background.push(...listening, ...streams);
  const [s1] = senders;
  if (s1?.client === undefined) throw new Error('no sender');
  await s1.client.waitFor(() => (s1.accepted().length >= 100 ? true : undefined), 30_000);
  // Kill with a pipelined burst in flight: once its first answer is back, the rest are being
  // stored and published, so some are stored but never answered, and their retries must be
  // recognised by cid.
  const burst = Array.from({ length: BURST }, (_, i) => s1.send(recipients[i % 4]?.user ?? ''));
  await s1.client.waitFor(() => {
    s1.collect();
    return burst.some((cid) => s1.acceptedIds.has(cid)) ? true : undefined;
  });
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
  for (const recipient of recipients) await recipient.finalSync();

  for (const sender of senders) {
    expect(sender.accepted()).toHaveLength(SENDS_PER_SENDER + (sender === s1 ? BURST : 0));
    expect(sender.refused()).toEqual([]);
  }
  expect(deliveryProblems(senders, recipients)).toEqual([]);
  // The victim's clients really were cut off and came back.
  expect(senders[0]?.client !== undefined && gatewayOf(senders[0].client)).toBe(survivor.id);
});
