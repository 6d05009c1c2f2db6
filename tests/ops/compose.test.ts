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

  test('fails the build when the native uWebSockets.js binary, a module or a Lua script does not load', () => {
    const checks = args('RUN').join(' ');
    expect(checks).toContain("require('./services/gateway/dist/transport/uws').loadNativeUws()");
    expect(checks).toContain("require('./services/gateway/dist/main')");
    expect(checks).toContain("require('./services/gateway/dist/store/redis-scripts').defineScripts(");
  });

  test('has a HEALTHCHECK on /healthz, exposes the gateway port, stops with SIGTERM', () => {
    expect(args('HEALTHCHECK').join(' ')).toContain('/healthz');
    expect(args('EXPOSE')).toEqual([String(gatewayConfig.PORT)]);
    expect(args('STOPSIGNAL')).toEqual(['SIGTERM']);
  });

  test('runs the compiled gateway with plain node: no ts-node, no TypeScript sources, no dev dependencies', () => {
    expect(JSON.parse(args('CMD').at(-1) ?? '[]')).toEqual(['node', 'services/gateway/dist/main.js']);
    const given = [...args('COPY'), ...args('ENV'), ...args('CMD')].join('\n');
    expect(given).not.toMatch(/ts-node|typescript|tsconfig|\.ts\b/);
    // Only the build stage's gathered package.json + dist/ folders, never libs/ or services/ whole.
    const copies = args('COPY');
    expect(copies.filter((copy) => !copy.startsWith('--from='))).toEqual(['package.json ./']);
    expect(copies).toContain('--from=build /out/ ./');
    // node_modules from the stage that installs production dependencies only.
    const from = /^--from=(\S+) \/app\/node_modules \.\/node_modules$/.exec(
      copies.find((copy) => copy.endsWith('./node_modules')) ?? '',
    )?.[1];
    const depsStage = stages.find((stage) => stage[0]?.args.endsWith(` AS ${from}`)) ?? [];
    expect(depsStage.map((i) => i.args).join(' ')).toContain('npm ci --omit=dev');
    // ...and the image refuses to build if the compiler got in anyway.
    expect(args('RUN').join(' ')).toContain(
      "for (const m of ['typescript', 'ts-node']) try { require.resolve(m);",
    );
  });

  test('a build stage compiles the workspaces with npm run build and gathers their package.json and dist/', () => {
    const build = stages.find((stage) => stage[0]?.args.endsWith(' AS build')) ?? [];
    const runs = build.filter((i) => i.keyword === 'RUN').map((i) => i.args);
    expect(runs.join(' && ')).toMatch(/npm ci .*npm run build/);
    const gather = runs.find((run) => run.includes('/out')) ?? '';
    expect(gather).toContain('-name package.json -o -name dist');
    expect(gather).toContain('test -f /out/services/gateway/dist/main.js');
  });

  test('.dockerignore keeps local state and dependencies out of the build context', () => {
    const ignored = readRepoFile('.dockerignore').split('\n');
    for (const entry of [
      'node_modules',
      '.run',
      '.cache',
      '.git',
      'test-artifacts',
      '**/dist',
      '**/*.tsbuildinfo',
    ])
      expect(ignored).toContain(entry);
  });
});
