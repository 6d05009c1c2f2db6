/**
 * `make bench`: postbox against a Socket.IO reference in one run, on this machine's native Redis
 * and Kafka, behind the same nginx, driven by the same open-loop generator (this process).
 *
 * For each target in BENCH_TARGETS (postbox first, then socketio): start its two server processes
 * (two gateways, or two reference instances: reference/socketio.ts), point nginx at them (started
 * for the first target, reloaded with the same template for the next), connect BENCH_PAIRS senders
 * and as many recipients through nginx, run one open-loop step per rate, reading each process's
 * CPU (/proc/<pid>/stat) before and after the step, then stop the servers. postbox also gets its
 * breakdown per step (gateway histograms) and the idle-memory measure. At the end: one table per
 * figure, postbox | reference | ratio, and the CPU per delivered message of every process.
 * It asserts nothing.
 *
 * Before the steps, per target: a warm-up at the first rate (not counted) and a window with no
 * traffic that gives each process's fixed CPU cost.
 *
 * Env: BENCH_TARGETS ("postbox,socketio"), BENCH_PAIRS (200), BENCH_RATES ("1000,2000,4000,6000,8000"),
 * BENCH_SECONDS (10), BENCH_BODY_BYTES (100), BENCH_TIMEOUT_MS (5000), BENCH_WARMUP_SECONDS (3),
 * BENCH_IDLE_CPU_SECONDS (3), BENCH_IDLE (10000 idle connections for postbox's memory figure; 0 skips),
 * BENCH_GATEWAY_NODE_ARGS (extra node flags for the gateways and the reference instances).
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { resolve } from 'node:path';
import { startGateway, isolatedEnv, type GatewayProcess } from '../../tests/support/gateways';
import { startNginx, type RunningNginx } from '../../tests/support/nginx';
import { TEST_JWT_SECRET } from '../../tests/support/tokens';
import { runStep, type LoadDriver } from './load';
import { fmt } from './stats';
import { measureIdleMemory } from './idle';
import { describeStep, scrape } from './breakdown';
import { childrenOf, cpuSeconds, findByCommandLine, pidFromFile, sampleCpu, type ProcessGroup } from './cpu';
import { connectPostbox } from './postbox-driver';
import { connectSocketIo } from './socketio-driver';
import { compileReference, startReference, type ReferenceInstance } from './reference/instances';
import { comparisonReport, STEP_HEADER, stepLine, type StepFigures, type TargetRun } from './report';

const ROOT = resolve(__dirname, '..', '..');
const numberEnv = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const TARGETS = ['postbox', 'socketio'] as const;
type TargetName = (typeof TARGETS)[number];

function ensureInfrastructure(): void {
  if (!process.env.REDIS_URL || !process.env.KAFKA_BROKERS) {
    execFileSync(resolve(ROOT, 'tools/redis.sh'), ['start'], { stdio: 'inherit' });
    execFileSync(resolve(ROOT, 'tools/kafka.sh'), ['start'], { stdio: 'inherit' });
    process.env.REDIS_URL = 'redis://127.0.0.1:16379';
    process.env.KAFKA_BROKERS = '127.0.0.1:19092';
  }
}

/** Server processes of one target, and what differs between targets. */
interface System {
  servers: { label: string; pid: number; port: number }[];
  connect(url: string, pairs: number): Promise<LoadDriver>;
  /** Printed under each step's line (postbox: where the time goes). */
  describe?(): Promise<() => Promise<string>>;
  /** Runs after the steps, with the users disconnected (postbox: idle memory). */
  after?(): Promise<void>;
  stop(): Promise<void>;
}

async function startPostbox(nodeArgs: string[]): Promise<System> {
  const env = {
    ...isolatedEnv(),
    LOG_LEVEL: 'warn',
    RATE_SENDS_PER_SECOND: '10000',
    RATE_SEND_BURST: '10000',
    // The production defaults, not the test harness's short leases (5x the renewal traffic).
    PRESENCE_LEASE_MS: '20000',
    PRESENCE_RENEW_MS: '5000',
  };
  // The production build (plain node on dist/), as `make up` and the image run it.
  const gateways: GatewayProcess[] = await Promise.all([
    startGateway({ env, nodeArgs, compiled: true }),
    startGateway({ env, nodeArgs, compiled: true }),
  ]);
  return {
    servers: gateways.map((gateway, i) => ({
      label: `gateway ${i + 1}`,
      pid: gateway.child.pid ?? -1,
      port: gateway.port,
    })),
    connect: connectPostbox,
    async describe() {
      const before = await scrape(gateways);
      return async () => describeStep(before, await scrape(gateways));
    },
    async after() {
      const idle = numberEnv('BENCH_IDLE', 10_000);
      if (idle > 0 && gateways[0] !== undefined) await measureIdleMemory(gateways[0], idle);
    },
    stop: async () => {
      await Promise.all(gateways.map((gateway) => gateway.stop()));
    },
  };
}

async function startSocketIo(nodeArgs: string[]): Promise<System> {
  const script = compileReference();
  const env = {
    JWT_SECRET: TEST_JWT_SECRET,
    REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:16379',
    // Its own channel prefix, so concurrent runs on the same Redis do not see each other.
    SIO_KEY: `bench-sio-${process.pid}-${randomBytes(4).toString('hex')}`,
  };
  const instances: ReferenceInstance[] = [];
  try {
    for (const n of [1, 2])
      instances.push(await startReference(script, { id: `${env.SIO_KEY}-${n}`, env, nodeArgs }));
  } catch (error) {
    await Promise.all(instances.map((instance) => instance.stop()));
    throw error;
  }
  return {
    servers: instances.map((instance, i) => ({
      label: `instance ${i + 1}`,
      pid: instance.pid,
      port: instance.port,
    })),
    connect: connectSocketIo,
    stop: async () => {
      await Promise.all(instances.map((instance) => instance.stop()));
    },
  };
}

/** nginx (this process's nginx child and its workers), Redis, the Kafka JVM, this generator. */
function sharedProcesses(): ProcessGroup[] {
  const redisPort = new URL(process.env.REDIS_URL ?? 'redis://127.0.0.1:16379').port || '6379';
  const runPid = (name: string) => pidFromFile(resolve(ROOT, '.run', 'pids', `${name}.pid`));
  return [
    {
      label: 'nginx (master + workers)',
      pids: () => childrenOf(process.pid, 'nginx').flatMap((master) => [master, ...childrenOf(master)]),
    },
    {
      label: 'redis',
      pids: () => {
        const pid = runPid('redis');
        return pid !== undefined ? [pid] : findByCommandLine('redis-server', `:${redisPort}`).slice(0, 1);
      },
    },
    {
      label: 'kafka JVM',
      pids: () => {
        const pid = runPid('kafka');
        return pid !== undefined ? [pid] : findByCommandLine('java', 'kafka.Kafka').slice(0, 1);
      },
    },
    { label: 'generator (this process)', pids: () => [process.pid] },
  ];
}

async function main(): Promise<void> {
  ensureInfrastructure();
  const pairs = numberEnv('BENCH_PAIRS', 200);
  const rates = (process.env.BENCH_RATES ?? '1000,2000,4000,6000,8000').split(',').map(Number);
  const seconds = numberEnv('BENCH_SECONDS', 10);
  const bodyBytes = numberEnv('BENCH_BODY_BYTES', 100);
  const timeoutMs = numberEnv('BENCH_TIMEOUT_MS', 5000);
  const warmupSeconds = numberEnv('BENCH_WARMUP_SECONDS', 3);
  const idleCpuSeconds = numberEnv('BENCH_IDLE_CPU_SECONDS', 3);
  const targets = (process.env.BENCH_TARGETS ?? TARGETS.join(','))
    .split(',')
    .map((name) => name.trim())
    .filter(Boolean);
  for (const name of targets) {
    if (!(TARGETS as readonly string[]).includes(name))
      throw new Error(`BENCH_TARGETS: unknown target "${name}" (known: ${TARGETS.join(', ')})`);
  }
  // e.g. BENCH_GATEWAY_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" profiles the servers.
  const nodeArgs = ['--expose-gc', ...(process.env.BENCH_GATEWAY_NODE_ARGS ?? '').split(' ').filter(Boolean)];
  console.log(
    `postbox bench: ${os.cpus().length} cores (${os.cpus()[0]?.model ?? '?'}), ${fmt(os.totalmem() / 2 ** 30, 0)} GiB, node ${process.version}`,
  );
  console.log(
    `targets ${targets.join(', ')}; ${pairs} senders → ${pairs} recipients through nginx; open-loop steps of ${seconds} s at ` +
      `${rates.join(', ')}/s; ${bodyBytes}-byte bodies; a send unanswered after ${timeoutMs} ms is a timeout`,
  );
  const shared = sharedProcesses();
  const runs: TargetRun[] = [];
  let edge: RunningNginx | undefined;
  let system: System | undefined;
  // Ctrl-C or a kill: stop the servers and nginx this run started (a signal skips 'exit' handlers).
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      console.error(`\nbench: ${signal}, stopping the servers and nginx it started`);
      void Promise.allSettled([system?.stop(), edge?.stop()]).then(() => process.exit(1));
    });
  }
  try {
    for (const name of targets as TargetName[]) {
      console.log(
        `\n== ${name}: ${name === 'postbox' ? 'two gateways' : 'two Socket.IO reference instances'} behind nginx ==`,
      );
      system = name === 'postbox' ? await startPostbox(nodeArgs) : await startSocketIo(nodeArgs);
      const ports = system.servers.map((server) => server.port);
      if (edge === undefined) edge = await startNginx({ upstreamPorts: ports, connLimitPerIp: 60_000 });
      else await edge.reload(ports);
      const groups: ProcessGroup[] = [
        ...system.servers.map((server) => ({ label: server.label, pids: () => [server.pid] })),
        ...shared,
      ];
      const run: TargetRun = {
        // The tables' column: "postbox | reference | ratio".
        name: name === 'postbox' ? 'postbox' : 'reference',
        servers: system.servers.map((server) => server.label),
        processes: groups.map((group) => group.label),
        steps: [],
      };
      runs.push(run);
      const driver = await system.connect(edge.url, pairs);
      if (warmupSeconds > 0 && rates[0] !== undefined) {
        const warm = await runStep(driver, { rate: rates[0], seconds: warmupSeconds, bodyBytes, timeoutMs });
        console.log(
          `warm-up: ${warmupSeconds} s at ${rates[0]}/s (not counted), ${warm.delivered} delivered`,
        );
      }
      if (idleCpuSeconds > 0) {
        const before = sampleCpu(groups);
        const started = performance.now();
        await new Promise((done) => setTimeout(done, idleCpuSeconds * 1000));
        run.idle = {
          cpuSeconds: cpuSeconds(before, sampleCpu(groups)),
          wallSeconds: (performance.now() - started) / 1000,
        };
      }
      console.log(STEP_HEADER);
      for (const rate of rates) {
        const describe = await system.describe?.();
        const cpuBefore = sampleCpu(groups);
        const started = performance.now();
        const result = await runStep(driver, { rate, seconds, bodyBytes, timeoutMs });
        const step: StepFigures = {
          rate,
          result,
          cpuSeconds: cpuSeconds(cpuBefore, sampleCpu(groups)),
          wallSeconds: (performance.now() - started) / 1000,
        };
        run.steps.push(step);
        console.log(stepLine(step, run.servers));
        if (describe !== undefined) console.log(`           ${await describe()}`);
      }
      await driver.close();
      await system.after?.();
      await system.stop();
      system = undefined;
    }
  } finally {
    await system?.stop();
    await edge?.stop();
  }
  console.log(`\n== comparison ==\n${comparisonReport(runs, rates)}`);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(`bench failed: ${error instanceof Error ? error.stack : String(error)}`);
    process.exit(1);
  },
);
