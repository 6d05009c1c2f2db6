/**
 * Composition root: reads the config once, builds the real parts and hands each only what it
 * needs. Full mode with REDIS_URL and KAFKA_BROKERS; embedded (in-memory, not durable) without.
 */
import Redis from 'ioredis';
import { ConfigError, gatewayEnvSchema, loadConfig, type GatewayConfig } from '@postbox/config';
import { createLogger, type Logger } from '@postbox/logger';
import { Defaults } from '@postbox/protocol';
import { Admission } from './admission';
import { TokenVerifier } from './auth/tokens';
import type { MessageBus } from './bus/bus';
import { KafkaBus } from './bus/kafka';
import { MemoryBus } from './bus/memory';
import { Delivery } from './delivery';
import { LiveDelivery } from './live';
import { devTokenRoutes } from './dev-tokens';
import { Gateway } from './gateway';
import { httpRoutes } from './http';
import { MonotonicUlid } from './ids';
import { GatewayMetrics } from './metrics';
import { Outbox } from './outbox';
import { StoreReadiness } from './readiness';
import { GatewayRoute } from './route';
import { Router } from './router';
import { SessionRegistry } from './sessions';
import { MemoryStore } from './store/memory';
import { RedisStore } from './store/redis';
import type { MailboxStore, StoreLimits } from './store/store';
import { startTransport } from './transport/uws';

/** A live gap this old is filled from the mailbox (normal reordering between gateways takes ms). */
const LIVE_GAP_WAIT_MS = 1000;
/** Out-of-order live messages one session may hold while a gap is open. */
const LIVE_MAX_HELD = 1000;
/** Sessions whose mailboxes are read at once when the bus comes back. */
const CATCH_UP_BATCH = 200;
/** How often the bus's readiness is sampled to notice it coming back. */
const BUS_WATCH_MS = 200;
/** Failed Redis pings in a row before /readyz says Redis is down (readiness.ts). */
const STORE_FAILED_PINGS_TO_DOWN = 3;

export interface RunningGateway {
  port: number;
  gatewayId: string;
  /** Graceful: refuse upgrades, close sessions with 1012, flush the bus, disconnect. */
  shutdown(): Promise<void>;
}

export async function startGateway(config: GatewayConfig, logger: Logger): Promise<RunningGateway> {
  // First: a DEV_TOKENS misconfiguration fails before any connection is opened.
  const httpPost = devTokenRoutes(config, logger);
  const metrics = new GatewayMetrics();
  const { store, closeStore } = buildStore(config, logger);
  const bus = buildBus(config, logger);
  const tokens = new TokenVerifier({
    secret: config.JWT_SECRET,
    publicKeyPem: config.JWT_PUBLIC_KEY,
    algorithms: config.JWT_ALGORITHMS,
    issuer: config.JWT_ISSUER,
    audience: config.JWT_AUDIENCE,
  });
  const route = new GatewayRoute(
    store,
    { gatewayId: config.GATEWAY_ID, routes: config.KAFKA_PARTITIONS, leaseMs: config.PRESENCE_LEASE_MS },
    logger,
  );
  const sessions = new SessionRegistry(store, route, logger);
  const limits = {
    sendsPerSecond: config.RATE_SENDS_PER_SECOND,
    sendBurst: config.RATE_SEND_BURST,
    bytesPerSecond: config.RATE_BYTES_PER_SECOND,
    maxInvalidFrames: config.MAX_INVALID_FRAMES,
    invalidWindowMs: Defaults.invalidFrameWindowMs,
    maxBufferedBytes: config.MAX_BUFFERED_BYTES,
    countFramesOut: (count: number) => metrics.framesOut.inc(count),
    outbox: new Outbox((err) =>
      logger.error({ err }, 'a connection failed while written to; it gets no more'),
    ),
  };
  const live = new LiveDelivery(store, metrics, logger, {
    gapWaitMs: LIVE_GAP_WAIT_MS,
    maxHeld: LIVE_MAX_HELD,
    pageSize: config.MAILBOX_PAGE_SIZE,
    catchUpBatch: CATCH_UP_BATCH,
    lowWaterBytes: Math.floor(config.MAX_BUFFERED_BYTES / 4),
  });
  const delivery = new Delivery(
    store,
    sessions,
    metrics,
    logger,
    { pageSize: config.MAILBOX_PAGE_SIZE, lowWaterBytes: Math.floor(config.MAX_BUFFERED_BYTES / 4) },
    live,
  );
  const router = new Router(
    store,
    bus,
    new MonotonicUlid(),
    metrics,
    logger,
    {
      maxBodyBytes: config.MAX_BODY_BYTES,
      admission: new Admission({
        maxInflight: config.MAX_INFLIGHT_SENDS,
        targetMs: config.OVERLOAD_TARGET_MS,
      }),
    },
    { localRoute: () => route.localRoute, deliverLocal: delivery.deliverLocal },
  );
  const gateway = new Gateway(
    {
      gatewayId: config.GATEWAY_ID,
      allowedOrigins: config.ALLOWED_ORIGINS,
      maxBodyBytes: config.MAX_BODY_BYTES,
      maxFrameBytes: config.MAX_FRAME_BYTES,
      limits,
    },
    { store, bus, tokens, sessions, router, delivery, metrics, logger, route },
  );

  const readiness = new StoreReadiness(STORE_FAILED_PINGS_TO_DOWN);
  const busStarted = startBusWithRetry(bus, route, delivery.onBusMessages, logger);
  const transport = await startTransport(
    {
      host: config.HOST,
      port: config.PORT,
      maxFrameBytes: config.MAX_FRAME_BYTES,
      maxBufferedBytes: config.MAX_BUFFERED_BYTES,
      idleTimeoutSeconds: config.IDLE_TIMEOUT_SECONDS,
    },
    {
      ...gateway.handlers(),
      http: httpRoutes({ gateway, store, bus, metrics, readiness, gatewayId: config.GATEWAY_ID }),
      httpPost,
    },
  );
  const timers = [
    setInterval(() => sessions.expireTokens(Date.now()), 1000),
    setInterval(() => live.repairGaps(Date.now()), LIVE_GAP_WAIT_MS / 2),
    setInterval(() => {
      void sessions.renewLeases();
      route.renew().catch((err: unknown) => logger.warn({ err }, 'route lease renewal failed'));
    }, config.PRESENCE_RENEW_MS),
    setInterval(() => void store.ping().then((ok) => gateway.setStoreReachable(readiness.pinged(ok))), 2000),
    watchBusRecovery(bus, () => void live.catchUp(sessions.all())),
  ];
  logger.info({ port: transport.port, gateway: config.GATEWAY_ID }, 'gateway listening on /ws');

  let stopping: Promise<void> | undefined;
  const shutdown = (): Promise<void> => {
    stopping ??= (async () => {
      logger.info('draining: refusing upgrades, closing sessions with 1012');
      gateway.drain();
      transport.stopListening();
      for (const timer of timers) clearInterval(timer);
      route.stop();
      await busStarted.cancel();
      await bus.stop();
      await router.flushAcks();
      await closeStore();
      logger.info('gateway stopped');
    })();
    return stopping;
  };
  return { port: transport.port, gatewayId: config.GATEWAY_ID, shutdown };
}

function buildStore(
  config: GatewayConfig,
  logger: Logger,
): { store: MailboxStore; closeStore(): Promise<void> } {
  const limits: StoreLimits = {
    mailboxMax: config.MAILBOX_MAX,
    mailboxRetentionSeconds: config.MAILBOX_RETENTION_SECONDS,
    idempotencyTtlSeconds: Defaults.idempotencyTtlSeconds,
    presenceLeaseMs: config.PRESENCE_LEASE_MS,
    maxConnectionsPerUser: config.MAX_CONNECTIONS_PER_USER,
  };
  if (config.REDIS_URL === undefined) {
    logger.warn(
      'EMBEDDED MODE: REDIS_URL is not set, mailboxes live in memory and are lost on exit. Not durable.',
    );
    return { store: new MemoryStore({ limits }), closeStore: async () => {} };
  }
  // Fail commands fast while Redis is down: the client gets `unavailable`, never a false `accepted`.
  const redis = new Redis(config.REDIS_URL, {
    enableAutoPipelining: true,
    maxRetriesPerRequest: 1,
    commandTimeout: 5000,
    retryStrategy: (attempt) => Math.min(attempt * 100, 2000),
  });
  redis.on('error', (err: Error) => logger.warn({ err: err.message }, 'redis connection error'));
  return {
    store: new RedisStore(redis, { keyPrefix: config.REDIS_KEY_PREFIX, limits }),
    closeStore: async () => {
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}

function buildBus(config: GatewayConfig, logger: Logger): MessageBus {
  if (config.KAFKA_BROKERS.length === 0) {
    logger.warn('EMBEDDED MODE: KAFKA_BROKERS is not set, live delivery reaches this gateway only.');
    return new MemoryBus();
  }
  return new KafkaBus({
    brokers: config.KAFKA_BROKERS,
    clientId: config.KAFKA_CLIENT_ID,
    topic: config.KAFKA_TOPIC,
    partitions: config.KAFKA_PARTITIONS,
    replicationFactor: config.KAFKA_REPLICATION_FACTOR,
    gatewayId: config.GATEWAY_ID,
    lingerMs: config.KAFKA_LINGER_MS,
    batchMax: config.KAFKA_BATCH_MAX,
    logger,
  });
}

/**
 * A broker that is down at startup must not keep the gateway down: sends are accepted as
 * `queued` meanwhile, and /readyz says Kafka is not ready until the bus starts.
 */
function startBusWithRetry(
  bus: MessageBus,
  route: GatewayRoute,
  handler: Parameters<MessageBus['start']>[0],
  logger: Logger,
): { cancel(): Promise<void> } {
  let cancelled = false;
  const attempt = async (delayMs: number): Promise<void> => {
    try {
      // The route first: it names the partition to consume (the claim retries while Redis is away).
      const claim = await route.claimed();
      if (claim === undefined) return;
      await bus.start(handler, claim.route);
      logger.info('message bus started');
    } catch (err) {
      if (cancelled) return;
      logger.warn({ err, retryInMs: delayMs }, 'message bus did not start; retrying');
      await new Promise((resolve) => setTimeout(resolve, delayMs));
      if (!cancelled) await attempt(Math.min(delayMs * 2, 10_000));
    }
  };
  const running = attempt(500);
  return {
    cancel: async () => {
      cancelled = true;
      await Promise.race([running, new Promise((resolve) => setTimeout(resolve, 1000))]);
    },
  };
}

/** Calls `recovered` each time the bus turns ready again (also the first time it starts). */
function watchBusRecovery(bus: MessageBus, recovered: () => void): NodeJS.Timeout {
  let wasReady = bus.isReady();
  return setInterval(() => {
    const ready = bus.isReady();
    if (ready && !wasReady) recovered();
    wasReady = ready;
  }, BUS_WATCH_MS);
}

async function main(): Promise<void> {
  let config: GatewayConfig;
  try {
    config = loadConfig(gatewayEnvSchema);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`postbox gateway: ${error.message}\nSee docs/operations.md for every variable.\n`);
      process.exit(2);
    }
    throw error;
  }
  const logger = createLogger({ name: 'gateway', level: config.LOG_LEVEL });
  const running = await startGateway(config, logger);
  const stop = (signal: string) => {
    logger.info({ signal }, 'shutting down');
    const deadline = setTimeout(() => process.exit(1), config.DRAIN_TIMEOUT_MS + 5000);
    deadline.unref();
    void running.shutdown().then(() => process.exit(0));
  };
  // Started with --expose-gc (the benchmark does), SIGUSR2 runs a full collection, so memory per
  // connection can be read without the garbage of the connects that just happened.
  const collect = globalThis.gc;
  if (collect !== undefined) process.on('SIGUSR2', () => collect());
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
}

if (require.main === module) {
  main().catch((error: unknown) => {
    process.stderr.write(
      `postbox gateway failed to start: ${error instanceof Error ? error.message : String(error)}\n`,
    );
    process.exit(1);
  });
}
