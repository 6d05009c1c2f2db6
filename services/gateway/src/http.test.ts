/** /readyz names what the gateway really runs on: Redis and Kafka, or memory (embedded mode). */
import type { MessageBus } from './bus/bus';
import { MemoryBus } from './bus/memory';
import { httpRoutes } from './http';
import { GatewayMetrics } from './metrics';
import { StoreReadiness } from './readiness';
import type { MailboxStore } from './store/store';
import { memoryStore } from './test-support';

const gateway = { isDraining: false, setStoreReachable: () => undefined };

async function readyz(
  store: MailboxStore,
  bus: MessageBus,
  readiness = new StoreReadiness(3),
): Promise<{ status: number; body: unknown }> {
  const metrics = new GatewayMetrics();
  const routes = httpRoutes({ gateway, store, bus, metrics, readiness, gatewayId: 'gw-1' });
  const reply = await routes['/readyz']!();
  return { status: reply.status, body: JSON.parse(String(reply.body)) };
}

test('embedded mode says it runs in memory, not that Redis and Kafka are up', async () => {
  const bus = new MemoryBus();
  await bus.start(() => undefined, 0);
  expect(await readyz(memoryStore(), bus)).toEqual({
    status: 200,
    body: { status: 'ready', gateway: 'gw-1', store: 'memory', bus: 'memory', draining: false },
  });
  await bus.stop();
});

test('full mode keeps its shape: redis and kafka as booleans', async () => {
  // Stand-ins for RedisStore and KafkaBus: only what /readyz calls.
  const store = { ping: async () => true } as unknown as MailboxStore;
  const bus = { isReady: () => false } as unknown as MessageBus;
  expect(await readyz(store, bus)).toEqual({
    status: 503,
    body: { status: 'unavailable', gateway: 'gw-1', redis: true, kafka: false, draining: false },
  });
});

test('a failed ping (a PONG late behind queued commands) does not flap readiness; three in a row do', async () => {
  const pongs = [false, false, true, false, false, false, true];
  const store = { ping: async () => pongs.shift() ?? true } as unknown as MailboxStore;
  const bus = { isReady: () => true } as unknown as MessageBus;
  const readiness = new StoreReadiness(3);
  const answers: [number, unknown][] = [];
  for (let i = 0; i < 7; i += 1) {
    const { status, body } = await readyz(store, bus, readiness);
    answers.push([status, (body as { redis?: unknown }).redis]);
  }
  expect(answers).toEqual([
    [200, true],
    [200, true],
    [200, true],
    [200, true],
    [200, true],
    [503, false],
    [200, true],
  ]);
});
