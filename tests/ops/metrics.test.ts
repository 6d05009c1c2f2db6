/**
 * /metrics of a real gateway (real Redis and Kafka) after a little traffic: every metric of
 * metrics.ts is exposed, and the counters and histograms named in docs/operations.md move when
 * their events happen. The gateway is this file's own, so exact counts are its traffic only.
 */
import { randomBytes } from 'node:crypto';
import { TestClient } from '../support/client';
import { isolatedEnv, startGateway, type GatewayProcess } from '../support/gateways';
import { tokenFor } from '../support/tokens';
import { GatewayMetrics } from '../../services/gateway/src/metrics';

let gateway: GatewayProcess;
const clients: TestClient[] = [];

beforeAll(async () => {
  gateway = await startGateway({ env: isolatedEnv() });
});

afterAll(async () => {
  await Promise.all(clients.map((client) => client.close()));
  await gateway?.stop();
});

const user = (name: string) => `${name}-${randomBytes(4).toString('hex')}`;

async function connect(name: string): Promise<TestClient> {
  const client = await TestClient.connect(gateway.url, { token: await tokenFor(name) });
  clients.push(client);
  await client.next('synced');
  return client;
}

interface Scrape {
  text: string;
  /** The sample `name{labels}` (labels exactly as exposed), or undefined when absent. */
  value(series: string): number | undefined;
}

async function scrape(): Promise<Scrape> {
  const response = await fetch(`${gateway.httpUrl}/metrics`);
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toContain('text/plain');
  const text = await response.text();
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][\w:]*(?:\{[^}]*\})?) (\S+)$/.exec(line);
    if (match?.[1] !== undefined) samples.set(match[1], Number(match[2]));
  }
  return { text, value: (series) => samples.get(series) };
}

/** Scrapes until `check` holds: counters of closes move after the client sees the close. */
async function scrapeUntil(check: (scrape: Scrape) => boolean, what: string): Promise<Scrape> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const current = await scrape();
    if (check(current)) return current;
    if (Date.now() > deadline) throw new Error(`metrics never showed ${what}:\n${current.text}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

test('traffic moves the counters and histograms of metrics.ts', async () => {
  const [alice, bob, carol] = [user('alice'), user('bob'), user('carol')];
  const a = await connect(alice);
  const b = await connect(bob);
  expect((await scrape()).value('postbox_connections')).toBe(2);

  // live: alice -> bob, both on this gateway: sent, written in process (no Kafka record)
  expect(await a.send(bob, 'hi bob', 'live-1')).toMatchObject({ type: 'accepted', status: 'sent' });
  await b.next('message');
  // the same cid again: a duplicate, nothing delivered
  expect(await a.send(bob, 'hi bob', 'live-1')).toMatchObject({ type: 'accepted', status: 'sent' });
  // offline: alice -> carol (queued), then carol connects and gets it from her mailbox
  expect(await a.send(carol, 'hi carol', 'mb-1')).toMatchObject({ type: 'accepted', status: 'queued' });
  const c = await connect(carol);
  expect(c.messages().map((message) => message.body)).toEqual(['hi carol']);
  // one error frame, one refused upgrade, one close
  a.sendRaw('{not json');
  expect(await a.next('error')).toMatchObject({ code: 'invalid_json' });
  expect((await TestClient.refusal(gateway.url, { authorization: 'Bearer nope' })).status).toBe(401);
  await b.close();

  const metrics = await scrapeUntil(
    (s) => s.value('postbox_closes_total{code="1000"}') === 1,
    'the close of bob with 1000',
  );
  const expected: Record<string, number> = {
    postbox_connections: 2,
    'postbox_frames_in_total{type="send"}': 3,
    'postbox_messages_accepted_total{status="sent"}': 1,
    'postbox_messages_accepted_total{status="duplicate"}': 1,
    'postbox_messages_accepted_total{status="queued"}': 1,
    'postbox_messages_delivered_total{path="live"}': 1,
    'postbox_messages_delivered_total{path="mailbox"}': 1,
    'postbox_errors_total{code="invalid_json"}': 1,
    'postbox_upgrades_refused_total{status="401"}': 1,
    'postbox_closes_total{code="1000"}': 1,
    postbox_delivery_latency_seconds_count: 1,
    postbox_kafka_publish_seconds_count: 0,
    postbox_live_local_total: 1,
    postbox_bus_records_total: 0,
  };
  const actual = Object.fromEntries(Object.keys(expected).map((series) => [series, metrics.value(series)]));
  expect(actual).toEqual(expected);
  expect(metrics.value('postbox_redis_command_seconds_count{op="accept"}')).toBeGreaterThanOrEqual(3);
  expect(metrics.value('postbox_mailbox_depth_count')).toBeGreaterThanOrEqual(3);
  // At least: three welcomes, three synced, three answers to sends, two messages, one error.
  expect(metrics.value('postbox_frames_out_total')).toBeGreaterThanOrEqual(12);
});

test('every metric of metrics.ts and the default process metrics are exposed', async () => {
  const { text } = await scrape();
  const exposed = new Set([...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map(([, name]) => name));
  const declared = (await new GatewayMetrics().registry.getMetricsAsJSON()).map((metric) => metric.name);
  expect(declared.filter((name) => !exposed.has(name))).toEqual([]);
  for (const name of [
    'postbox_gateway_process_cpu_seconds_total',
    'postbox_gateway_process_resident_memory_bytes',
    'postbox_gateway_nodejs_heap_size_used_bytes',
    'postbox_gateway_nodejs_eventloop_lag_p99_seconds',
  ]) {
    expect(exposed).toContain(name);
  }
});
