/**
 * docker-compose.yml, nginx/nginx.conf and the Dockerfile checked against the gateway's own
 * config schema, since no Docker engine runs in CI: every variable compose sets is one the
 * gateway reads, the required ones are set, ports agree end to end, and `--scale` works.
 */
import { gatewayEnvSchema, gatewayEnvShape, loadConfig } from '@postbox/config';
import {
  composeService,
  dockerStages,
  durationSeconds,
  interpolate,
  loadCompose,
  loadNginxEdge,
  readRepoFile,
} from './repo-files';

const compose = loadCompose();
const gateway = composeService(compose, 'gateway');
const SUPPLIED = { JWT_SECRET: 'a-secret-an-operator-supplies-0123456789' };
const gatewayEnv = interpolate(gateway.environment, SUPPLIED);
// Defaults for the checks below even when compose lacks a required variable (its own test fails).
const gatewayConfig = loadConfig(gatewayEnvSchema, { ...SUPPLIED, ...gatewayEnv });

describe('docker-compose.yml: the gateway service', () => {
  test('sets only variables the gateway reads', () => {
    const known = Object.keys(gatewayEnvShape.shape);
    expect(Object.keys(gateway.environment).filter((name) => !known.includes(name))).toEqual([]);
  });

  test('sets everything the gateway requires, and runs in full (durable) mode', () => {
    // Throws when a required variable (a JWT key) is missing or a value is invalid.
    expect(() => loadConfig(gatewayEnvSchema, gatewayEnv)).not.toThrow();
    expect(gatewayConfig.REDIS_URL).toBe('redis://redis:6379');
    expect(gatewayConfig.KAFKA_BROKERS).toEqual(['kafka:9092']);
    expect(gatewayConfig.NODE_ENV).toBe('production');
  });

  test('takes JWT_SECRET from the operator and never from the file', () => {
    expect(gateway.environment.JWT_SECRET).toMatch(/^\$\{JWT_SECRET:\?.+\}$/);
    expect(() => interpolate(gateway.environment, {})).toThrow(/JWT_SECRET/);
  });

  test('scales: no container_name, no host ports, no fixed GATEWAY_ID', () => {
    expect(gateway.container_name).toBeUndefined();
    expect(gateway.ports).toEqual([]);
    expect(gateway.environment).not.toHaveProperty('GATEWAY_ID');
    expect(gateway.build).toBeDefined();
  });

  test('waits for healthy Kafka and Redis, and is given time to drain on stop', () => {
    expect(gateway.depends_on).toEqual({
      kafka: { condition: 'service_healthy' },
      redis: { condition: 'service_healthy' },
    });
    expect(gateway.stop_signal ?? 'SIGTERM').toBe('SIGTERM');
    // main.ts exits at the latest DRAIN_TIMEOUT_MS + 5 s after SIGTERM; compose must not SIGKILL first.
    const grace = durationSeconds(gateway.stop_grace_period ?? '10s');
    expect(grace).toBeGreaterThanOrEqual(gatewayConfig.DRAIN_TIMEOUT_MS / 1000 + 5);
  });

  test('its healthcheck asks the gateway port', () => {
    const probe = [gateway.healthcheck?.test ?? ''].flat().join(' ');
    expect(probe).toContain(`127.0.0.1:${gatewayConfig.PORT}/readyz`);
  });
});

describe('docker-compose.yml: Kafka, Redis, nginx', () => {
  test('KAFKA_BROKERS and REDIS_URL name the compose services and their ports', () => {
    const kafka = composeService(compose, 'kafka').environment;
    expect(kafka.KAFKA_ADVERTISED_LISTENERS).toBe(`PLAINTEXT://${gatewayConfig.KAFKA_BROKERS.join(',')}`);
    expect(kafka.KAFKA_PROCESS_ROLES).toBe('broker,controller');
    expect(kafka.KAFKA_CONTROLLER_QUORUM_VOTERS).toBe(`${kafka.KAFKA_NODE_ID}@kafka:9093`);
    expect(kafka.KAFKA_LISTENERS).toBe('PLAINTEXT://:9092,CONTROLLER://:9093');
    // apache/kafka refuses to start in KRaft mode without one.
    expect(kafka.CLUSTER_ID).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(kafka.KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR).toBe('1');
    expect(composeService(compose, 'kafka').volumes).toContain(`kafka-data:${kafka.KAFKA_LOG_DIRS}`);
  });

  test('Redis keeps an append-only file on a volume', () => {
    const redis = composeService(compose, 'redis');
    expect([redis.command ?? ''].flat().join(' ')).toMatch(
      /--appendonly yes --appendfsync (everysec|always)/,
    );
    expect(redis.volumes).toContain('redis-data:/data');
  });

  test('nginx proxies to the gateway port, publishes its listen port, and re-resolves replicas', () => {
    const nginx = composeService(compose, 'nginx');
    const edge = loadNginxEdge();
    expect(edge.upstreamServers).toEqual([
      { host: 'gateway', port: gatewayConfig.PORT, params: ['resolve'] },
    ]);
    expect(nginx.ports).toEqual([`${edge.listenPort}:${edge.listenPort}`]);
    expect(nginx.volumes).toContain('./nginx/nginx.conf:/etc/nginx/nginx.conf:ro');
    expect(nginx.depends_on).toEqual({ gateway: { condition: 'service_healthy' } });
    // `server ... resolve` in an upstream exists in open-source nginx from 1.27.3 on.
    const version = /^nginx:(\d+)\.(\d+)\.(\d+)-alpine$/.exec(nginx.image ?? '');
    expect(version).not.toBeNull();
    const [major, minor, patch] = (version ?? []).slice(1).map(Number);
    expect((major ?? 0) * 1e6 + (minor ?? 0) * 1e3 + (patch ?? 0)).toBeGreaterThanOrEqual(1_027_003);
  });

  test('every service has a healthcheck and every dependency waits for health', () => {
    for (const [name, spec] of Object.entries(compose.services)) {
      expect({ name, test: spec.healthcheck?.test }).toEqual({ name, test: expect.anything() });
      for (const [dependency, { condition }] of Object.entries(spec.depends_on)) {
        expect({ name, dependency, condition }).toEqual({ name, dependency, condition: 'service_healthy' });
        expect(compose.services).toHaveProperty(dependency);
      }
    }
  });

  test('named volumes used by services are declared', () => {
    const named = Object.values(compose.services)
      .flatMap((spec) => spec.volumes)
      .map((volume) => volume.split(':')[0] ?? '')
      .filter((source) => !source.startsWith('.') && !source.startsWith('/'));
    expect(Object.keys(compose.volumes).sort()).toEqual([...new Set(named)].sort());
  });
});

describe('Dockerfile', () => {
  const stages = dockerStages();
  const runtime = stages.at(-1) ?? [];
  const args = (keyword: string) => runtime.filter((i) => i.keyword === keyword).map((i) => i.args);

  test('is multi-stage on node:20-bookworm-slim', () => {
    expect(stages.length).toBeGreaterThan(1);
    expect(readRepoFile('Dockerfile')).toMatch(/^ARG NODE_IMAGE=node:20-bookworm-slim$/m);
  });

  test('runs the gateway as a non-root user', () => {
    const users = args('USER');
    expect(users.length).toBeGreaterThan(0);
    expect(users.at(-1)).not.toMatch(/^(root|0)(:|$)/);
    const order = runtime.map((i) => i.keyword);
    expect(order.lastIndexOf('USER')).toBeLessThan(order.lastIndexOf('CMD'));
  });

  test('fails the build when the native uWebSockets.js binary does not load', () => {
    expect(
      args('RUN').some((run) =>
        run.includes("require('./services/gateway/src/transport/uws').loadNativeUws()"),
      ),
    ).toBe(true);
  });

  test('has a HEALTHCHECK on /healthz, exposes the gateway port, stops with SIGTERM', () => {
    expect(args('HEALTHCHECK').join(' ')).toContain('/healthz');
    expect(args('EXPOSE')).toEqual([String(gatewayConfig.PORT)]);
    expect(args('STOPSIGNAL')).toEqual(['SIGTERM']);
    expect(args('CMD').join(' ')).toContain('ts-node/register/transpile-only');
  });

  test('copies the whole runtime closure of ts-node (per package-lock.json) into the image', () => {
    const copied = /cp -a --parents (.+?) \/ts-runtime\//.exec(
      readRepoFile('Dockerfile').replace(/\\\n/g, ' '),
    );
    const listed = (copied?.[1] ?? '').split(/\s+/).filter(Boolean).sort();
    expect(listed).toEqual(tsNodeClosure().sort());
  });

  test('.dockerignore keeps local state and dependencies out of the build context', () => {
    const ignored = readRepoFile('.dockerignore').split('\n');
    for (const entry of ['node_modules', '.run', '.cache', '.git', 'test-artifacts'])
      expect(ignored).toContain(entry);
  });
});

interface LockEntry {
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
}

/**
 * Top-level package names ts-node needs at runtime in transpile-only mode, resolved through
 * package-lock.json like Node resolves them. @types/node is a type-only peer: not needed to run.
 */
function tsNodeClosure(): string[] {
  const lock = JSON.parse(readRepoFile('package-lock.json')) as { packages: Record<string, LockEntry> };
  const seen = new Set<string>();
  const visit = (name: string, from: string): void => {
    let base = from;
    let key = `${base}node_modules/${name}`;
    while (lock.packages[key] === undefined && base !== '') {
      base = base.slice(0, base.lastIndexOf('node_modules/', base.length - 2));
      key = `${base}node_modules/${name}`;
    }
    const entry = lock.packages[key];
    if (entry === undefined || seen.has(key) || name === '@types/node') return;
    seen.add(key);
    const optional = entry.peerDependenciesMeta ?? {};
    const peers = Object.keys(entry.peerDependencies ?? {}).filter((peer) => !optional[peer]?.optional);
    for (const dependency of [...Object.keys(entry.dependencies ?? {}), ...peers])
      visit(dependency, `${key}/`);
  };
  visit('ts-node', '');
  // Nested copies travel inside their parent's folder; only top-level ones are listed.
  return [...seen]
    .filter((key) => key.indexOf('node_modules/') === key.lastIndexOf('node_modules/'))
    .map((key) => key.slice('node_modules/'.length));
}
