/** /healthz, /readyz and /metrics. */
import type { MessageBus } from './bus/bus';
import { MemoryBus } from './bus/memory';
import type { Gateway } from './gateway';
import type { GatewayMetrics } from './metrics';
import type { StoreReadiness } from './readiness';
import { MemoryStore } from './store/memory';
import type { MailboxStore } from './store/store';
import type { HttpReply } from './transport/uws';

const json = (status: number, body: unknown): HttpReply => ({
  status,
  contentType: 'application/json',
  body: JSON.stringify(body),
});

export function httpRoutes(parts: {
  gateway: Pick<Gateway, 'isDraining' | 'setStoreReachable'>;
  store: MailboxStore;
  bus: MessageBus;
  metrics: GatewayMetrics;
  /** Judges ping outcomes, shared with the probe loop: one slow PONG under load is not an outage. */
  readiness: StoreReadiness;
  gatewayId: string;
}): Record<string, () => Promise<HttpReply> | HttpReply> {
  const { gateway, store, bus, metrics, readiness, gatewayId } = parts;
  return {
    '/healthz': () => json(200, { status: 'ok', gateway: gatewayId }),
    '/readyz': async () => {
      const storeUp = readiness.pinged(await store.ping());
      gateway.setStoreReachable(storeUp);
      const busUp = bus.isReady();
      const ready = storeUp && busUp && !gateway.isDraining;
      // Full mode: `"redis":…,"kafka":…`. Embedded mode (in memory) uses neither, and says so
      // rather than reporting them as up.
      const parts = {
        ...(store instanceof MemoryStore ? { store: 'memory' } : { redis: storeUp }),
        ...(bus instanceof MemoryBus ? { bus: 'memory' } : { kafka: busUp }),
      };
      return json(ready ? 200 : 503, {
        status: ready ? 'ready' : 'unavailable',
        gateway: gatewayId,
        ...parts,
        draining: gateway.isDraining,
      });
    },
    '/metrics': async () => ({
      status: 200,
      contentType: metrics.registry.contentType,
      body: await metrics.registry.metrics(),
    }),
  };
}
