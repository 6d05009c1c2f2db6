/** /healthz, /readyz and /metrics. */
import type { MessageBus } from './bus/bus';
import type { Gateway } from './gateway';
import type { GatewayMetrics } from './metrics';
import type { MailboxStore } from './store/store';
import type { HttpReply } from './transport/uws';

const json = (status: number, body: unknown): HttpReply => ({
  status,
  contentType: 'application/json',
  body: JSON.stringify(body),
});

export function httpRoutes(parts: {
  gateway: Gateway;
  store: MailboxStore;
  bus: MessageBus;
  metrics: GatewayMetrics;
  gatewayId: string;
}): Record<string, () => Promise<HttpReply> | HttpReply> {
  const { gateway, store, bus, metrics, gatewayId } = parts;
  return {
    '/healthz': () => json(200, { status: 'ok', gateway: gatewayId }),
    '/readyz': async () => {
      const redis = await store.ping();
      gateway.setStoreReachable(redis);
      const kafka = bus.isReady();
      const ready = redis && kafka && !gateway.isDraining;
      return json(ready ? 200 : 503, {
        status: ready ? 'ready' : 'unavailable',
        gateway: gatewayId,
        redis,
        kafka,
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
