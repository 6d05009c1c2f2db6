/** The gateway's configuration: every environment variable it reads, with defaults. */
import { hostname } from 'node:os';
import { z } from 'zod';
import { env } from './load';

const ORIGIN = /^https?:\/\/[^/\s]+$/;

/**
 * Each variable on its own, before the cross-field checks: `gatewayEnvShape.shape` lists every
 * variable the gateway reads (docs/operations.md and the ops tests are checked against it).
 */
export const gatewayEnvShape = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  HOST: z.string().default('0.0.0.0'),
  PORT: env.int(8080, 0, 65535),
  GATEWAY_ID: z
    .string()
    .regex(/^[A-Za-z0-9._-]{1,64}$/, 'expected 1-64 characters of A-Z a-z 0-9 . _ -')
    .optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),

  REDIS_URL: env.optionalString().pipe(z.string().url('expected redis://host:port').optional()),
  REDIS_KEY_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9._-]{1,64}$/)
    .default('pb'),
  KAFKA_BROKERS: env.list(),
  KAFKA_CLIENT_ID: z.string().default('postbox-gateway'),
  KAFKA_TOPIC: z
    .string()
    .regex(/^[A-Za-z0-9._-]{1,200}$/, 'expected a Kafka topic name')
    .default('postbox.messages'),
  KAFKA_PARTITIONS: env.int(32, 1, 10_000),
  KAFKA_REPLICATION_FACTOR: env.int(1, 1, 10),
  KAFKA_LINGER_MS: env.int(2, 0, 1000),
  KAFKA_BATCH_MAX: env.int(500, 1, 100_000),

  JWT_SECRET: env.optionalString(),
  JWT_PUBLIC_KEY: env.optionalString(),
  JWT_ALGORITHMS: env.list(),
  JWT_ISSUER: env.optionalString(),
  JWT_AUDIENCE: env.optionalString(),
  ALLOWED_ORIGINS: env
    .list()
    .pipe(z.array(z.string().regex(ORIGIN, 'expected scheme://host[:port] entries'))),

  MAX_BODY_BYTES: env.int(65_536, 1, 16 * 1024 * 1024),
  MAX_FRAME_BYTES: env.int(262_144, 4, 64 * 1024 * 1024),
  RATE_SENDS_PER_SECOND: env.int(100, 1, 1_000_000),
  RATE_SEND_BURST: env.int(200, 1, 1_000_000),
  RATE_BYTES_PER_SECOND: env.int(1_048_576, 1, 1024 * 1024 * 1024),
  // Overload (docs/architecture.md): sends started but not yet answered, per gateway. Each
  // publishes at most one record per connection of its recipient: with the defaults (x 10) the
  // bus's publish queue (10,000 in bus/kafka.ts) does not fill before admission refuses.
  MAX_INFLIGHT_SENDS: env.int(1000, 1, 10_000),
  // Below ioredis' commandTimeout (5 s in main.ts), so load is refused before commands time out.
  OVERLOAD_TARGET_MS: env.int(250, 10, 2000),
  MAX_INVALID_FRAMES: env.int(10, 1, 1_000_000),
  MAX_CONNECTIONS_PER_USER: env.int(10, 1, 100_000),
  MAX_BUFFERED_BYTES: env.int(1_048_576, 1024, 1024 * 1024 * 1024),
  IDLE_TIMEOUT_SECONDS: env.int(60, 8, 960),

  MAILBOX_MAX: env.int(10_000, 1, 10_000_000),
  MAILBOX_RETENTION_SECONDS: env.int(30 * 24 * 3600, 60, 10 * 365 * 24 * 3600),
  MAILBOX_PAGE_SIZE: env.int(100, 1, 10_000),
  PRESENCE_LEASE_MS: env.int(20_000, 1_000, 600_000),
  PRESENCE_RENEW_MS: env.int(5_000, 100, 300_000),
  DRAIN_TIMEOUT_MS: env.int(10_000, 0, 600_000),
  DEV_TOKENS: env.bool(false),
});

export const gatewayEnvSchema = gatewayEnvShape
  .superRefine((cfg, ctx) => {
    if (!cfg.JWT_SECRET && !cfg.JWT_PUBLIC_KEY) {
      ctx.addIssue({
        code: 'custom',
        path: ['JWT_SECRET'],
        message:
          'set JWT_SECRET (HS256 shared secret, at least 32 characters) or JWT_PUBLIC_KEY (PEM, RS256/ES256)',
      });
    }
    if (cfg.JWT_SECRET && cfg.JWT_SECRET.length < 32) {
      ctx.addIssue({ code: 'custom', path: ['JWT_SECRET'], message: 'expected at least 32 characters' });
    }
    if (cfg.MAX_FRAME_BYTES < 4 * cfg.MAX_BODY_BYTES) {
      ctx.addIssue({
        code: 'custom',
        path: ['MAX_FRAME_BYTES'],
        message: `expected at least 4 x MAX_BODY_BYTES (${4 * cfg.MAX_BODY_BYTES})`,
      });
    }
    if (cfg.PRESENCE_RENEW_MS * 2 > cfg.PRESENCE_LEASE_MS) {
      ctx.addIssue({
        code: 'custom',
        path: ['PRESENCE_RENEW_MS'],
        message:
          'expected at most half of PRESENCE_LEASE_MS, so one missed renewal does not expire a session',
      });
    }
  })
  .transform((cfg) => ({ ...cfg, GATEWAY_ID: cfg.GATEWAY_ID ?? `${hostname()}-${process.pid}` }));

export type GatewayConfig = z.infer<typeof gatewayEnvSchema>;
