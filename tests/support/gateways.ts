/**
 * Real gateway processes for end-to-end tests, started as production starts them (a node process
 * configured by env), so SIGKILL and SIGTERM tests mean what they say. By default they run the
 * sources (services/gateway/src/main.ts through ts-node), so a test sees the code as it is now;
 * `compiled: true` runs the production build, services/gateway/dist/main.js with plain node,
 * building it first when needed (ensureBuild).
 *
 *   const gw = await startGateway({ env: { REDIS_KEY_PREFIX: prefix, KAFKA_TOPIC: topic } });
 *   ... gw.port, gw.kill('SIGKILL'), await gw.exited
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { kafkaBrokers, redisUrl, uniqueName } from './infra';
import { TEST_JWT_SECRET } from './tokens';
import { freePort } from './ports';

const ROOT = resolve(__dirname, '..', '..');
const LOG_DIR = resolve(ROOT, '.run', 'test-logs');
/** The production entry point `npm run build` makes (tsc -b; the store's .lua scripts beside it). */
export const COMPILED_MAIN = resolve(ROOT, 'services', 'gateway', 'dist', 'main.js');
const BUILD_LOCK = resolve(ROOT, '.run', 'build.lock');
const children = new Set<ChildProcess>();
process.once('exit', () => children.forEach((child) => child.kill('SIGKILL')));

export interface GatewayProcess {
  id: string;
  port: number;
  url: string;
  httpUrl: string;
  child: ChildProcess;
  exited: Promise<number | null>;
  kill(signal?: NodeJS.Signals): void;
  stop(): Promise<void>;
}

export interface StartGatewayOptions {
  id?: string;
  port?: number;
  env?: Record<string, string>;
  /** Wait for /readyz 200 (default); false waits for /healthz only. */
  waitReady?: boolean;
  /** Extra node flags, e.g. ['--cpu-prof'] (the benchmark's profiling switch). */
  nodeArgs?: string[];
  /**
   * Run the production build (services/gateway/dist/main.js, plain node: no ts-node, no
   * typescript) instead of the sources; ensureBuild() brings dist/ up to date first.
   */
  compiled?: boolean;
}

let build: Promise<void> | undefined;

/**
 * `npm run build`, once per test process (tsc -b is incremental: a second or two when nothing
 * changed). Under flock, so jest workers and other test runs never compile into the same dist/
 * at the same time: whoever comes second waits, then finds it up to date.
 */
export function ensureBuild(): Promise<void> {
  build ??= new Promise<void>((done, fail) => {
    mkdirSync(dirname(BUILD_LOCK), { recursive: true });
    execFile(
      'flock',
      [BUILD_LOCK, 'npm', 'run', '-s', 'build'],
      { cwd: ROOT, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error === null) return done();
        build = undefined;
        fail(new Error(`npm run build failed (${error.message}):\n${stdout}${stderr}`));
      },
    );
  });
  return build;
}

/** Names shared by the gateways of one test file: its own Redis key prefix and Kafka topic. */
export function isolatedEnv(): Record<string, string> {
  return {
    REDIS_URL: redisUrl(),
    KAFKA_BROKERS: kafkaBrokers().join(','),
    REDIS_KEY_PREFIX: uniqueName('pbt'),
    KAFKA_TOPIC: uniqueName('postbox.test'),
    KAFKA_PARTITIONS: '3',
  };
}

/**
 * Starts a gateway and waits until it is ready. A free port found here can be taken by another
 * process before the gateway binds it (the gateway listens exclusively and exits then), so a
 * gateway given no port is retried on a fresh one.
 */
export async function startGateway(options: StartGatewayOptions = {}): Promise<GatewayProcess> {
  if (options.compiled) await ensureBuild();
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await startOnce(options);
    } catch (error) {
      if (options.port !== undefined || attempt >= 3 || !String(error).includes('exited during startup'))
        throw error;
    }
  }
}

async function startOnce(options: StartGatewayOptions): Promise<GatewayProcess> {
  const id = options.id ?? uniqueName('gw');
  const port = options.port ?? (await freePort());
  mkdirSync(LOG_DIR, { recursive: true });
  const log = createWriteStream(resolve(LOG_DIR, `${id}.log`));
  const entry = options.compiled
    ? [COMPILED_MAIN]
    : ['-r', 'ts-node/register/transpile-only', 'services/gateway/src/main.ts'];
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), ...entry], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      NODE_ENV: 'test',
      LOG_LEVEL: 'info',
      JWT_SECRET: TEST_JWT_SECRET,
      GATEWAY_ID: id,
      HOST: '127.0.0.1',
      PORT: String(port),
      PRESENCE_LEASE_MS: '6000',
      PRESENCE_RENEW_MS: '1000',
      ...options.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
  void exited.then(() => children.delete(child));
  const gateway: GatewayProcess = {
    id,
    port,
    url: `ws://127.0.0.1:${port}`,
    httpUrl: `http://127.0.0.1:${port}`,
    child,
    exited,
    kill: (signal = 'SIGTERM') => {
      child.kill(signal);
    },
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
        await exited;
        clearTimeout(timer);
      }
    },
  };
  await waitHttp(`${gateway.httpUrl}/${options.waitReady === false ? 'healthz' : 'readyz'}`, exited, id);
  return gateway;
}

async function waitHttp(url: string, exited: Promise<number | null>, id: string): Promise<void> {
  let dead = false;
  void exited.then(() => {
    dead = true;
  });
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (dead) throw new Error(`gateway ${id} exited during startup; see .run/test-logs/${id}.log`);
    try {
      const response = await fetch(url);
      if (response.status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((done) => setTimeout(done, 100));
  }
  throw new Error(`gateway ${id} not ready within 60 s at ${url}; see .run/test-logs/${id}.log`);
}
