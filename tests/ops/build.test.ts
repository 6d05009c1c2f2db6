/**
 * The production build: `npm run build` compiles the workspaces to dist/ (tests left out, the
 * store's Lua scripts copied beside its JavaScript), and services/gateway/dist/main.js runs on
 * plain node in full mode against the real Redis and Kafka with no TypeScript compiler in the
 * process. A gateway run from sources is the control: the same check finds ts-node in it.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import Redis from 'ioredis';
import { Kafka, logLevel } from 'kafkajs';
import { TestClient } from '../support/client';
import {
  COMPILED_MAIN,
  ensureBuild,
  isolatedEnv,
  startGateway,
  type GatewayProcess,
  type StartGatewayOptions,
} from '../support/gateways';
import { kafkaBrokers, redisUrl } from '../support/infra';
import { uniqueUser } from '../support/streams';
import { tokenFor } from '../support/tokens';

const ROOT = resolve(__dirname, '..', '..');
const PRELOAD = resolve(__dirname, 'loaded-modules.js');
const WORKSPACES = ['libs/protocol', 'libs/config', 'libs/logger', 'libs/client', 'services/gateway'];
const scratch = mkdtempSync(join(tmpdir(), 'postbox-build-'));

interface Loaded {
  main: string | null;
  execArgv: string[];
  modules: string[];
  extensions: string[];
}

/** What of the TypeScript toolchain a process had: compiler files, .ts modules, a .ts loader. */
function toolchainIn(loaded: Loaded): string[] {
  return [
    ...loaded.modules.filter(
      (file) => /[\\/]node_modules[\\/](typescript|ts-node)[\\/]/.test(file) || file.endsWith('.ts'),
    ),
    ...loaded.extensions.filter((extension) => extension === '.ts'),
    ...loaded.execArgv.filter((arg) => arg.includes('ts-node')),
  ];
}

/** Starts a gateway that records its loaded modules on exit; `loaded()` stops it and reads them. */
async function recordedGateway(name: string, options: StartGatewayOptions) {
  const file = join(scratch, `${name}.json`);
  const gateway = await startGateway({
    ...options,
    env: { ...options.env, LOADED_MODULES_FILE: file },
    nodeArgs: ['--require', PRELOAD],
  });
  const loaded = async (): Promise<{ code: number | null; loaded: Loaded }> => {
    await gateway.stop();
    return { code: await gateway.exited, loaded: JSON.parse(readFileSync(file, 'utf8')) as Loaded };
  };
  return { gateway, loaded };
}

/** Paths (from the repo root) of everything under a folder. */
function filesUnder(dir: string): string[] {
  return (readdirSync(dir, { recursive: true }) as string[]).map((file) => relative(ROOT, join(dir, file)));
}

afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('npm run build', () => {
  beforeAll(() => ensureBuild());

  test('compiles every workspace to dist/, without tests or test helpers', () => {
    for (const workspace of WORKSPACES) {
      const pkg = JSON.parse(readFileSync(resolve(ROOT, workspace, 'package.json'), 'utf8')) as {
        main: string;
      };
      const compiled = filesUnder(resolve(ROOT, workspace, 'dist'));
      expect(compiled).toContain(`${workspace}/${pkg.main}`);
      expect(
        compiled.filter((file) => /\.(test|contract)\.js$|test-support|[\\/]testing[\\/]/.test(file)),
      ).toEqual([]);
    }
  });

  test('puts each Lua script of the store, unchanged, beside the compiled store', () => {
    const source = resolve(ROOT, 'services/gateway/src/store');
    const scripts = readdirSync(source).filter((file) => file.endsWith('.lua'));
    expect(scripts.length).toBeGreaterThan(0);
    for (const script of scripts) {
      const copied = readFileSync(resolve(ROOT, 'services/gateway/dist/store', script), 'utf8');
      expect({ script, same: copied === readFileSync(resolve(source, script), 'utf8') }).toEqual({
        script,
        same: true,
      });
    }
  });
});

describe('the compiled gateway (dist/main.js) in full mode', () => {
  const env = isolatedEnv();
  let gateway: GatewayProcess;
  let loaded: () => Promise<{ code: number | null; loaded: Loaded }>;

  beforeAll(async () => {
    ({ gateway, loaded } = await recordedGateway('compiled', { compiled: true, env }));
  });

  afterAll(async () => {
    await gateway?.stop();
  });

  test('answers /healthz and /readyz with Redis and Kafka reached', async () => {
    const health = await fetch(`${gateway.httpUrl}/healthz`);
    expect(health.status).toBe(200);
    const ready = await fetch(`${gateway.httpUrl}/readyz`);
    expect({ status: ready.status, body: await ready.json() }).toEqual({
      status: 200,
      body: expect.objectContaining({ status: 'ready', gateway: gateway.id, redis: true, kafka: true }),
    });
  });

  test('welcomes a WebSocket and stores a message in Redis, on its own Kafka topic', async () => {
    const alice = uniqueUser('alice');
    const client = await TestClient.connect(gateway.url, { token: await tokenFor(alice) });
    try {
      // connect() resolves once the welcome arrived.
      expect(client.all('welcome')).toEqual([expect.objectContaining({ user: alice, gateway: gateway.id })]);
      const answer = await client.send(uniqueUser('bob'), 'compiled', 'c-1');
      expect(answer).toEqual(expect.objectContaining({ type: 'accepted', cid: 'c-1' }));
    } finally {
      await client.close();
    }
    // Full mode for real: the message is in Redis under this test's prefix, the topic in Kafka.
    const redis = new Redis(redisUrl());
    const admin = new Kafka({ brokers: kafkaBrokers(), logLevel: logLevel.NOTHING }).admin();
    try {
      expect((await redis.keys(`${env.REDIS_KEY_PREFIX}*`)).length).toBeGreaterThan(0);
      await admin.connect();
      expect(await admin.listTopics()).toContain(env.KAFKA_TOPIC);
    } finally {
      redis.disconnect();
      await admin.disconnect();
    }
  });

  test('runs services/gateway/dist/main.js on the compiled libs, with neither typescript nor ts-node loaded', async () => {
    const { code, loaded: seen } = await loaded();
    expect(code).toBe(0);
    expect(seen.main).toBe(COMPILED_MAIN);
    expect(seen.modules).toEqual(
      expect.arrayContaining([
        resolve(ROOT, 'libs/protocol/dist/index.js'),
        resolve(ROOT, 'libs/config/dist/index.js'),
        resolve(ROOT, 'libs/logger/dist/index.js'),
      ]),
    );
    expect(toolchainIn(seen)).toEqual([]);
  });
});

test('control: the same check finds ts-node in a gateway run from sources', async () => {
  // Embedded mode (no Redis, no Kafka): only what the process loads matters here.
  const { loaded } = await recordedGateway('sources', { env: {} });
  const { code, loaded: seen } = await loaded();
  expect(code).toBe(0);
  expect(seen.main).toBe(resolve(ROOT, 'services/gateway/src/main.ts'));
  expect(toolchainIn(seen)).toEqual(
    expect.arrayContaining([expect.stringMatching(/[\\/]node_modules[\\/]ts-node[\\/]/), '.ts']),
  );
});
