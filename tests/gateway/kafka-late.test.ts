/**
 * A broker that is down when a gateway starts must not keep the gateway down: it serves (a
 * recipient on the same gateway is reached in process, without the bus), reports Kafka not ready,
 * and becomes ready by itself once the broker is back.
 */
import { randomBytes } from 'node:crypto';
import { TestClient } from '../support/client';
import { isolatedEnv, startGateway, type GatewayProcess } from '../support/gateways';
import { startOwnKafka, type OwnKafka } from '../support/own-kafka';
import { tokenFor } from '../support/tokens';

let kafka: OwnKafka;
let gateway: GatewayProcess | undefined;
const clients: TestClient[] = [];

beforeAll(async () => {
  kafka = await startOwnKafka();
  await kafka.stop();
}, 120_000);

afterAll(async () => {
  await Promise.all(clients.map((client) => client.close()));
  await gateway?.stop();
  await kafka?.destroy();
}, 60_000);

async function readiness(url: string): Promise<{ status: number; kafka: unknown }> {
  const response = await fetch(`${url}/readyz`);
  const body = (await response.json()) as { kafka?: unknown };
  return { status: response.status, kafka: body.kafka };
}

test('starts without Kafka, still delivers to its own sessions, and is ready once the broker comes back', async () => {
  gateway = await startGateway({ env: { ...isolatedEnv(), KAFKA_BROKERS: kafka.brokers }, waitReady: false });
  const url = gateway.httpUrl;
  expect(await readiness(url)).toEqual({ status: 503, kafka: false });

  const run = randomBytes(3).toString('hex');
  const [alice, bob] = [`alice-${run}`, `bob-${run}`];
  const a = await TestClient.connect(gateway.url, { token: await tokenFor(alice) });
  const b = await TestClient.connect(gateway.url, { token: await tokenFor(bob) });
  clients.push(a, b);
  await b.next('synced');
  // bob's only session is on this gateway: written in process, so Kafka being away does not matter.
  expect(await a.send(bob, 'while kafka is away', 'k-1')).toMatchObject({
    type: 'accepted',
    status: 'sent',
  });
  await b.waitFor(
    () => (b.messages().length >= 1 ? true : undefined),
    5_000,
    'the message sent while Kafka is away',
  );

  await kafka.restart();
  const deadline = Date.now() + 90_000;
  while ((await readiness(url)).status !== 200) {
    if (Date.now() > deadline) throw new Error('the gateway never became ready after the broker came back');
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  expect(await a.send(bob, 'live again', 'k-2')).toMatchObject({ type: 'accepted', status: 'sent' });
  await b.waitFor(() => (b.messages().length >= 2 ? true : undefined), 15_000, 'both messages');
  expect(b.messages().map((message) => message.body)).toEqual(['while kafka is away', 'live again']);
}, 240_000);
