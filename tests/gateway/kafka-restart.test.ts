/**
 * Backing services restarting under the gateways, through real nginx to two real gateways:
 * - our own Kafka broker stopped and restarted: sends stay `accepted` (`queued`) and reach the
 *   recipient on reconnect, /readyz says kafka false, then live delivery resumes;
 * - our own Redis (AOF, appendfsync always) SIGKILLed and restarted on its directory: every
 *   accepted message is still there for the recipient.
 * The shared native Redis and Kafka are never stopped.
 */
import { TestClient } from '../support/client';
import { isolatedEnv, startGateway, type GatewayProcess } from '../support/gateways';
import { startNginx, type RunningNginx } from '../support/nginx';
import { startOwnKafka, type OwnKafka } from '../support/own-kafka';
import { startOwnRedis, type OwnRedis } from '../support/redis-server';
import { ackAndConfirm, CidSender, connectAs, connectRetrying, uniqueUser } from '../support/streams';

const clients: TestClient[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close()));
});

async function readiness(gateway: GatewayProcess): Promise<{ redis?: boolean; kafka?: boolean }> {
  try {
    return (await (await fetch(`${gateway.httpUrl}/readyz`)).json()) as { redis?: boolean; kafka?: boolean };
  } catch {
    return {};
  }
}

/** Polls /readyz of every gateway until `kafka` (or `redis`) reads `want`; the wait is the event. */
async function untilReady(
  gateways: GatewayProcess[],
  field: 'kafka' | 'redis',
  want: boolean,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const states = await Promise.all(gateways.map(readiness));
    if (states.every((state) => state[field] === want)) return;
    if (Date.now() > deadline) throw new Error(`/readyz ${field} not ${want}: ${JSON.stringify(states)}`);
    await new Promise((wake) => setTimeout(wake, 250));
  }
}

async function sender(user: string, url: string): Promise<CidSender> {
  const s = new CidSender(user);
  clients.push(await s.connect(url));
  return s;
}

async function online(user: string, url: string): Promise<TestClient> {
  const client = await connectRetrying(user, url);
  clients.push(client);
  await client.next('synced', 30_000);
  return client;
}

/** Sends one message and waits for its answer; returns the cid and the `accepted` status. */
async function sendOne(from: CidSender, to: string): Promise<{ cid: string; status: string | undefined }> {
  const cid = from.send(to);
  await from.settle();
  return { cid, status: from.statusOf(cid) };
}

async function arrives(client: TestClient, cid: string, timeoutMs = 15_000): Promise<void> {
  await client.waitFor(
    () => (client.messages().some((m) => m.body === `body of ${cid}`) ? true : undefined),
    timeoutMs,
    `the message of ${cid}`,
  );
}

describe('our own Kafka broker stops and comes back', () => {
  let kafka: OwnKafka;
  let gateways: GatewayProcess[] = [];
  let edge: RunningNginx;

  beforeAll(async () => {
    kafka = await startOwnKafka();
    const env = { ...isolatedEnv(), KAFKA_BROKERS: kafka.brokers };
    gateways = await Promise.all([startGateway({ env }), startGateway({ env })]);
    edge = await startNginx({ upstreamPorts: gateways.map((gateway) => gateway.port) });
  }, 180_000);

  afterAll(async () => {
    await edge?.stop();
    await Promise.all(gateways.map((gateway) => gateway.stop()));
    await kafka?.destroy();
  }, 60_000);

  test('queued while the broker is down and delivered on reconnect; live again once it is back', async () => {
    const [alice, bob] = [uniqueUser('alice'), uniqueUser('bob')];
    const a = await sender(alice, edge.url);
    let b = await online(bob, edge.url);
    const before = await sendOne(a, bob);
    expect(before.status).toBe('sent');
    await arrives(b, before.cid);
    await ackAndConfirm(
      b,
      b.messages().map((m) => m.id),
    );

    // A second device of bob stays connected through the outage: nothing reaches it live while
    // the broker is down, and once live traffic resumes it must get the queued messages too, in
    // order and before the newer one, without reconnecting (a gap in its seqs is read from the mailbox).
    const stays = await online(bob, edge.url);

    await kafka.stop();
    await untilReady(gateways, 'kafka', false, 60_000);
    const during = Array.from({ length: 20 }, () => a.send(bob));
    await a.settle();
    expect(during.map((cid) => a.statusOf(cid))).toEqual(during.map(() => 'queued'));
    await b.close();
    b = await online(bob, edge.url);
    expect(b.messages().map((m) => m.body)).toEqual(during.map((cid) => `body of ${cid}`));

    await kafka.restart();
    await untilReady(gateways, 'kafka', true, 120_000);
    // The connected device catches up from its mailbox as soon as its gateway's bus is ready
    // again, without waiting for a new live message to reveal the gap.
    const readyAt = performance.now();
    await stays.waitFor(
      () => (stays.messages().length === during.length ? true : undefined),
      5_000,
      'the messages queued during the outage on the connected device',
    );
    console.log(
      `queued messages reached the connected device ${(performance.now() - readyAt).toFixed(0)} ms after /readyz`,
    );
    // Ready again on both: the next send is published and reaches the open connection live.
    const after = await sendOne(a, bob);
    expect(after.status).toBe('sent');
    await arrives(b, after.cid);
    expect(b.frames.filter((frame) => frame.type === 'synced')).toHaveLength(1);
    await arrives(stays, after.cid);
    expect(stays.messages().map((m) => m.body)).toEqual(
      [...during, after.cid].map((cid) => `body of ${cid}`),
    );
  }, 300_000);
});

describe('our own Redis (AOF, fsync always) is SIGKILLed and restarted', () => {
  let redis: OwnRedis;
  let gateways: GatewayProcess[] = [];
  let edge: RunningNginx;

  beforeAll(async () => {
    redis = await startOwnRedis();
    const env = { ...isolatedEnv(), REDIS_URL: redis.url };
    gateways = await Promise.all([startGateway({ env }), startGateway({ env })]);
    edge = await startNginx({ upstreamPorts: gateways.map((gateway) => gateway.port) });
  });

  afterAll(async () => {
    await edge?.stop();
    await Promise.all(gateways.map((gateway) => gateway.stop()));
    await redis?.stop();
  });

  test('every message accepted before the crash reaches the recipient after the restart', async () => {
    const [alice, bob] = [uniqueUser('alice'), uniqueUser('bob')];
    const a = await sender(alice, edge.url);
    await a.client?.next('synced');
    for (let i = 0; i < 200; i += 1) a.send(bob);
    await a.settle();
    const accepted = a.accepted(bob).map((m) => m.id);
    expect(accepted).toHaveLength(200);

    await redis.kill();
    await redis.restart();
    await untilReady(gateways, 'redis', true, 30_000);
    const b = await connectAs(bob, edge.url).catch(() => online(bob, edge.url));
    clients.push(b);
    await b.next('synced', 30_000);
    expect(b.messages().map((m) => m.id)).toEqual(accepted);
  });
});
