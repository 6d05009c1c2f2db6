/**
 * SIGTERM of a gateway with connected clients and traffic flowing, through real nginx to two
 * real gateways on real Redis and Kafka: its clients get 1012 `draining`, it stops being ready and
 * refuses new upgrades, exits with code 0, and its clients reconnect through nginx to the other
 * gateway without losing anything that was accepted.
 */
import { TestClient } from '../support/client';
import type { GatewayProcess } from '../support/gateways';
import type { RunningNginx } from '../support/nginx';
import { startTwoGatewayEdge, stopTwoGatewayEdge } from '../support/edge';
import { deliveryProblems, Recipient, streamWithRetries, type Traffic } from '../support/reconnecting';
import { CidSender, connectAs, uniqueUser } from '../support/streams';

const SENDS_PER_SENDER = 300;
const BURST = 60;

let gateways: GatewayProcess[] = [];
let edge: RunningNginx;
const clients: TestClient[] = [];
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
  ({ gateways, edge } = await startTwoGatewayEdge({ RATE_SENDS_PER_SECOND: '1000' }));
});

afterAll(async () => {
  finished = true;
  await Promise.all(clients.map((client) => client.close()));
  await Promise.allSettled(background);
  await stopTwoGatewayEdge(gateways, edge);
});

const gatewayOf = (client: TestClient | undefined): string => {
  const welcome = client?.frames[0];
  return welcome?.type === 'welcome' ? welcome.gateway : '';
};

/** /readyz's status, or the socket error code when the gateway no longer listens. */
async function readiness(gateway: GatewayProcess): Promise<number | string> {
  try {
    return (await fetch(`${gateway.httpUrl}/readyz`)).status;
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause;
    return cause?.code ?? String(error);
  }
}

/** The HTTP status of a refused upgrade, or the socket error code of a refused connection. */
async function upgradeRefusal(url: string): Promise<number | string> {
  try {
    const client = await connectAs(uniqueUser('late'), url);
    clients.push(client);
    return 'accepted';
  } catch (error) {
    const { status, code } = error as { status?: number; code?: string };
    return status ?? code ?? String(error);
  }
}

test('SIGTERM: 1012 draining, not ready, upgrades refused, exit 0, clients move to the other gateway and nothing accepted is lost', async () => {
  const senders = [new CidSender(uniqueUser('s1')), new CidSender(uniqueUser('s2'))];
  const recipients = [1, 2, 3, 4].map((n) => new Recipient(uniqueUser(`r${n}`), traffic));
  const [victim, survivor] = gateways;
  const [s1] = senders;
  if (s1 === undefined || victim === undefined || survivor === undefined) throw new Error('setup');
  // Everyone connects through nginx. A client still sending when its gateway drains used to see
  // 1006 instead of 1012 about one time in three: uWS half-closes right after the close frame,
  // nginx closed the client side with client data unread, and the kernel's reset dropped the
  // close frame. `lingering_close always` in the nginx configs fixed it.
  for (const sender of senders) clients.push(await sender.connect(edge.url));
  for (const recipient of recipients) await recipient.connect(edge.url);
  await Promise.all(recipients.map((r) => r.current?.next('synced')));
  const onVictim = [...senders.map((s) => s.client), ...recipients.map((r) => r.current)].filter(
    (client): client is TestClient => gatewayOf(client) === victim.id,
  );
  expect(onVictim.length).toBeGreaterThan(0);
  if (s1.client === undefined) throw new Error('setup');

  const listening = recipients.map((r) => r.keepConnected());
  const streams = senders.map((s) =>
    streamWithRetries(
      s,
      recipients.map((r) => r.user),
      SENDS_PER_SENDER,
      traffic,
    ),
  );
  background.push(...listening, ...streams);
  await s1.client.waitFor(() => (s1.accepted().length >= 100 ? true : undefined), 30_000);
  // SIGTERM with a pipelined burst in flight, as in the kill test.
  const burst = Array.from({ length: BURST }, (_, i) => s1.send(recipients[i % 4]?.user ?? ''));
  await s1.client.waitFor(() => {
    s1.collect();
    return burst.some((cid) => s1.acceptedIds.has(cid)) ? true : undefined;
  });
  victim.kill('SIGTERM');

  const closes = await Promise.all(onVictim.map((client) => client.waitClosed(20_000)));
  expect(closes).toEqual(onVictim.map(() => ({ code: 1012, reason: 'draining' })));
  // Draining has begun: a new upgrade is refused, by a 503 or by a closed port.
  expect([503, 'ECONNREFUSED']).toContain(await upgradeRefusal(victim.url));
  // ... and never says ready again: 503, or no answer at all (closed port, or cut by the exit).
  expect(await readiness(victim)).not.toBe(200);
  expect(await victim.exited).toBe(0);

  await Promise.all(streams);
  finished = true;
  await Promise.all(listening);
  for (const recipient of recipients) await recipient.finalSync();
  for (const sender of senders) {
    expect(sender.accepted()).toHaveLength(SENDS_PER_SENDER + (sender === s1 ? BURST : 0));
    expect(sender.refused()).toEqual([]);
    expect(gatewayOf(sender.client)).toBe(survivor.id);
  }
  expect(deliveryProblems(senders, recipients)).toEqual([]);
});
