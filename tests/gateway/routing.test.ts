/**
 * Routing instead of fan-out, on real Redis and Kafka with three gateways: each gateway consumes
 * only its own route (partition), a live message is produced only to the routes of the gateways
 * holding its recipient's sessions, and a recipient whose sessions are all on the sender's gateway
 * is written in process without a bus record at all. Proved from each gateway's own counters.
 */
import { TestClient } from '../support/client';
import { isolatedEnv, startGateway, type GatewayProcess } from '../support/gateways';
import { connectAs, uniqueUser } from '../support/streams';

jest.setTimeout(120_000);

let gateways: GatewayProcess[] = [];
const clients: TestClient[] = [];

beforeAll(async () => {
  const env = isolatedEnv();
  gateways = await Promise.all([startGateway({ env }), startGateway({ env }), startGateway({ env })]);
});

afterAll(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close()));
  await Promise.all(gateways.map((gateway) => gateway.stop()));
});

async function counter(gateway: GatewayProcess, name: string): Promise<number> {
  const text = await (await fetch(`${gateway.httpUrl}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return Number(line?.split(' ')[1] ?? 'NaN');
}

/** Per gateway: bus records decoded and messages written without the bus, since the last call. */
async function countersSince(
  before: Array<{ records: number; local: number }>,
): Promise<Array<{ records: number; local: number }>> {
  const now = await Promise.all(
    gateways.map(async (gateway) => ({
      records: await counter(gateway, 'postbox_bus_records_total'),
      local: await counter(gateway, 'postbox_live_local_total'),
    })),
  );
  const delta = now.map((n, i) => ({
    records: n.records - (before[i]?.records ?? 0),
    local: n.local - (before[i]?.local ?? 0),
  }));
  before.splice(0, before.length, ...now);
  return delta;
}

async function online(user: string, gateway: GatewayProcess | undefined): Promise<TestClient> {
  if (gateway === undefined) throw new Error('no such gateway');
  const client = await connectAs(user, gateway.url);
  clients.push(client);
  await client.next('synced');
  return client;
}

async function sendMany(from: TestClient, to: string, count: number, tag: string): Promise<void> {
  for (let i = 0; i < count; i += 1) {
    expect(await from.send(to, `${tag} ${i}`, `${tag}-${i}`)).toMatchObject({
      type: 'accepted',
      status: 'sent',
    });
  }
}

async function receives(client: TestClient, tag: string, count: number): Promise<void> {
  await client.waitFor(
    () => (client.messages().filter((m) => m.body.startsWith(`${tag} `)).length >= count ? true : undefined),
    15_000,
    `${count} messages tagged ${tag}`,
  );
  expect(client.messages().filter((m) => m.body.startsWith(`${tag} `))).toHaveLength(count);
}

test('each gateway decodes only the records of its own sessions; local recipients skip the bus', async () => {
  const [g1, g2, g3] = gateways;
  const [alice, bob, dave] = [uniqueUser('alice'), uniqueUser('bob'), uniqueUser('dave')];
  const a = await online(alice, g1);
  const bobOn2 = await online(bob, g2);
  const base = await Promise.all(gateways.map(() => ({ records: 0, local: 0 })));
  await countersSince(base);

  // alice (gateway 1) → bob (gateway 2): only gateway 2 reads them.
  await sendMany(a, bob, 20, 'one');
  await receives(bobOn2, 'one', 20);
  expect(await countersSince(base)).toEqual([
    { records: 0, local: 0 },
    { records: 20, local: 0 },
    { records: 0, local: 0 },
  ]);

  // bob gets a second device on gateway 3: one record for each of their routes, none for gateway 1.
  const bobOn3 = await online(bob, g3);
  await sendMany(a, bob, 5, 'two');
  await receives(bobOn2, 'two', 5);
  await receives(bobOn3, 'two', 5);
  expect(await countersSince(base)).toEqual([
    { records: 0, local: 0 },
    { records: 5, local: 0 },
    { records: 5, local: 0 },
  ]);

  // dave is on alice's gateway: written in process, no bus record anywhere.
  const daveOn1 = await online(dave, g1);
  await sendMany(a, dave, 5, 'three');
  await receives(daveOn1, 'three', 5);
  expect(await countersSince(base)).toEqual([
    { records: 0, local: 5 },
    { records: 0, local: 0 },
    { records: 0, local: 0 },
  ]);
});

test('a message to oneself reaches every device, on this gateway in process and elsewhere by the bus', async () => {
  const [g1, g2] = gateways;
  const carol = uniqueUser('carol');
  const here = await online(carol, g1);
  const there = await online(carol, g2);
  expect(await here.send(carol, 'note 0', 'note-0')).toMatchObject({ type: 'accepted', status: 'sent' });
  await receives(here, 'note', 1);
  await receives(there, 'note', 1);
});
