/**
 * Scaling under live traffic, the way `make scale` does it, through real nginx to real gateways
 * on real Redis and Kafka: a third gateway joins (started, ready, then nginx reloaded) and new
 * connections reach it; then an original gateway is drained in the documented order (nginx
 * reloaded without it first, then SIGTERM): its clients get 1012, reconnect through nginx to the
 * others, nothing accepted is lost, and every client ends up connected again.
 */
import { TestClient } from '../support/client';
import { isolatedEnv, startGateway, type GatewayProcess } from '../support/gateways';
import { startNginx, type RunningNginx } from '../support/nginx';
import { deliveryProblems, Recipient, type Traffic } from '../support/reconnecting';
import { CidSender, uniqueUser } from '../support/streams';

let env: Record<string, string> = {};
let gateways: GatewayProcess[] = [];
let edge: RunningNginx;
const clients: TestClient[] = [];
/** Set when the test ends, however it ends: the background loops stop reconnecting. */
let finished = false;
/** Set once the drain is over: senders stop sending new messages and settle. */
let sendingStopped = false;
const background: Promise<unknown>[] = [];
const streams: Promise<void>[] = [];
const traffic: Traffic = {
  get url() {
    return edge.url;
  },
  stopped: () => finished,
  track: (client) => clients.push(client),
};

beforeAll(async () => {
  // ~200 sends/s per sender stay under the rate limit: no send is refused.
  env = { ...isolatedEnv(), RATE_SENDS_PER_SECOND: '1000' };
  gateways = await Promise.all([startGateway({ env }), startGateway({ env })]);
  edge = await startNginx({ upstreamPorts: gateways.map((gateway) => gateway.port) });
});

afterAll(async () => {
  finished = true;
  sendingStopped = true;
  await Promise.all(clients.map((client) => client.close()));
  await Promise.allSettled([...background, ...streams]);
  await edge?.stop();
  await Promise.all(gateways.map((gateway) => gateway.stop()));
});

const gatewayOf = (client: TestClient | undefined): string => client?.all('welcome')[0]?.gateway ?? '';
const isOpen = (client: TestClient | undefined): boolean =>
  client !== undefined && client.closed === undefined && client.ws.readyState === client.ws.OPEN;

async function openConnections(gateway: GatewayProcess): Promise<number> {
  const text = await (await fetch(`${gateway.httpUrl}/metrics`)).text();
  return Number(/^postbox_connections (\d+)$/m.exec(text)?.[1] ?? 'NaN');
}

async function reconnectSender(sender: CidSender): Promise<void> {
  const client = await sender.connect(edge.url);
  traffic.track(client);
  await client.next('synced', 30_000);
  sender.resendUnanswered();
}

/** Sends to the recipients in turn (~200/s) until told to stop, then until every send is answered. */
async function stream(sender: CidSender, recipients: readonly string[]): Promise<void> {
  for (let i = 0; !sendingStopped; i += 1) {
    if (!isOpen(sender.client)) await reconnectSender(sender);
    sender.send(recipients[i % recipients.length] ?? '');
    if (i % 5 === 4) await new Promise((wake) => setTimeout(wake, 25)); // pacing, not a wait
  }
  while (!finished) {
    if (isOpen(sender.client)) await sender.settle(60_000);
    if (sender.unanswered() === 0) return;
    await reconnectSender(sender);
  }
}

/** Polls until `check` holds (an event we cannot subscribe to, e.g. a gauge); fails at the deadline. */
async function eventually(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((wake) => setTimeout(wake, 100));
  }
}

/** Waits until `sender` has `count` accepted sends in all (its current connection reports them). */
async function acceptedAtLeast(sender: CidSender, count: number, what: string): Promise<void> {
  const client = sender.client;
  if (client === undefined) throw new Error(`${sender.user} is not connected`);
  await client.waitFor(() => (sender.accepted().length >= count ? true : undefined), 30_000, what);
}

/** Two senders streaming to three acking recipients, all through nginx. */
async function startTraffic(): Promise<{ senders: CidSender[]; recipients: Recipient[] }> {
  const senders = [new CidSender(uniqueUser('s1')), new CidSender(uniqueUser('s2'))];
  const recipients = [1, 2, 3].map((n) => new Recipient(uniqueUser(`r${n}`), traffic));
  // Sequential connects: least_conn spreads them over both gateways.
  for (const sender of senders) traffic.track(await sender.connect(edge.url));
  for (const recipient of recipients) await recipient.connect();
  const users = recipients.map((r) => r.user);
  background.push(...recipients.map((r) => r.keepConnected()));
  streams.push(...senders.map((sender) => stream(sender, users)));
  return { senders, recipients };
}

/** Scale up as `make scale` does: the new gateway is ready before nginx learns of it. */
async function addGateway(): Promise<{ added: GatewayProcess; newcomers: Recipient[] }> {
  const added = await startGateway({ env });
  gateways.push(added);
  await edge.reload(gateways.map((gateway) => gateway.port));
  // least_conn counts per worker, and the reload's new worker starts at zero for every gateway:
  // three new connections go one to each, so one of them reaches the new gateway.
  const newcomers = ['new1', 'new2', 'new3'].map((name) => new Recipient(uniqueUser(name), traffic));
  for (const newcomer of newcomers) await newcomer.connect();
  background.push(...newcomers.map((newcomer) => newcomer.keepConnected()));
  return { added, newcomers };
}

/** The documented drain order: nginx without the gateway first, then SIGTERM. Returns its clients. */
async function drain(victim: GatewayProcess): Promise<TestClient[]> {
  const onVictim = clients.filter((client) => gatewayOf(client) === victim.id && client.closed === undefined);
  await edge.reload(gateways.filter((gateway) => gateway !== victim).map((gateway) => gateway.port));
  victim.kill('SIGTERM');
  expect(await victim.exited).toBe(0);
  return onVictim;
}

test('add a gateway and drain one under live traffic: new connections reach the new one, drained clients get 1012 and reconnect, nothing accepted is lost', async () => {
  const [a, b] = gateways;
  if (a === undefined || b === undefined) throw new Error('two gateways expected');
  const { senders, recipients } = await startTraffic();
  const [s1] = senders;
  if (s1 === undefined) throw new Error('no sender');
  const connected = () => [...senders.map((s) => s.client), ...recipients.map((r) => r.current)];
  expect(new Set(connected().map(gatewayOf))).toEqual(new Set([a.id, b.id]));
  await acceptedAtLeast(s1, 100, 'sends accepted before scaling');

  const { added: c, newcomers } = await addGateway();
  expect(newcomers.map((newcomer) => gatewayOf(newcomer.current))).toContain(c.id);
  expect(await openConnections(c)).toBeGreaterThan(0);
  const acceptedBeforeDrain = s1.accepted().length;

  const drained = await drain(a);
  expect(drained.length).toBeGreaterThan(0);
  for (const client of drained) expect((await client.waitClosed(30_000)).code).toBe(1012);

  // Everyone is connected again, to the remaining gateways, and traffic flowed meanwhile.
  const everyone = () => [...connected(), ...newcomers.map((r) => r.current)];
  await eventually(() => everyone().every(isOpen), 'every client to be connected again');
  for (const client of everyone()) expect([b.id, c.id]).toContain(gatewayOf(client));
  await acceptedAtLeast(s1, acceptedBeforeDrain + 100, 'sends accepted after the drain');

  sendingStopped = true;
  await Promise.all(streams);
  finished = true;
  await Promise.allSettled(background);
  for (const recipient of recipients) await recipient.finalSync();

  for (const sender of senders) expect(sender.refused()).toEqual([]);
  expect(deliveryProblems(senders, recipients)).toEqual([]);
});
