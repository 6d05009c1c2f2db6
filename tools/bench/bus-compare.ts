/**
 * kafkajs (KafkaBus) against @platformatic/kafka (PlatformaticBus) behind the same MessageBus, on
 * the real broker: for each client and rate, a bus on a fresh topic publishes N messages of a
 * 100-byte body at a fixed open-loop rate and consumes them in the same process. Prints process
 * CPU µs per message (publish + consume, process.cpuUsage), publish → consume latency p50/p99,
 * and the CPU an idle bus burns over 10 s.
 *
 *   node -r ts-node/register/transpile-only tools/bench/bus-compare.ts
 *
 * Env: KAFKA_BROKERS (127.0.0.1:19092), BUS_BENCH_N (20000), BUS_BENCH_RATES (2000,5000),
 * BUS_BENCH_REPS (3), BUS_BENCH_IDLE_S (10),
 * BUS_BENCH_CLIENTS (kafkajs,platformatic,kafkajs-mw20,memory). `kafkajs-mw<ms>` is KafkaBus with
 * its consumer's fetch wait set to <ms> (patched here only; kafkajs-mw20 is the setting profiled
 * before the routing work): it tells the client's cost from the cost of a setting. `memory` is
 * the in-process MemoryBus: the harness's own cost (publisher timer, messages, latency
 * bookkeeping), to subtract. Each bus consumes route 0 and every message is published to it.
 *
 * Every measurement runs in a child process of its own (no JIT or heap state carried over), and
 * the clients alternate order from one repetition to the next: the machine is shared, so compare
 * the medians and ratios of one run, not figures from different runs.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { Writable } from 'node:stream';
import { Kafka, logLevel } from 'kafkajs';
import { createLogger } from '@postbox/logger';
import type { MessageBus } from '../../services/gateway/src/bus/bus';
import { KafkaBus } from '../../services/gateway/src/bus/kafka';
import { MemoryBus } from '../../services/gateway/src/bus/memory';
import { PlatformaticBus } from '../../services/gateway/src/bus/platformatic';
import type { StoredMessage } from '../../services/gateway/src/store/store';

/** `kafkajs-mw<ms>`: KafkaBus with its consumer's fetch wait set to <ms> (patched here only). */
const CLIENTS = ['kafkajs', 'platformatic', 'kafkajs-mw20', 'memory'];
type ClientName = string;

interface RunResult {
  client: ClientName;
  rate: number;
  n: number;
  delivered: number;
  publishErrors: number;
  cpuUsPerMsg: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  wallS: number;
  idleCpuPct: number;
}

const brokers = (process.env.KAFKA_BROKERS ?? '127.0.0.1:19092').split(',');
const N = Number(process.env.BUS_BENCH_N ?? 20_000);
const RATES = (process.env.BUS_BENCH_RATES ?? '2000,5000').split(',').map(Number);
const REPS = Number(process.env.BUS_BENCH_REPS ?? 3);
const IDLE_S = Number(process.env.BUS_BENCH_IDLE_S ?? 10);
const SELECTED = (process.env.BUS_BENCH_CLIENTS ?? CLIENTS.join(',')).split(',') as ClientName[];
const BODY = 'x'.repeat(100);
const PARTITIONS = 6; // the gateway's default KAFKA_PARTITIONS
const ROUTE = 0;

const quietLogger = createLogger(
  { name: 'bus-bench', level: 'warn', pretty: false },
  new Writable({ write: (chunk: Buffer, _encoding, callback) => (process.stderr.write(chunk), callback()) }),
);

function makeBus(client: ClientName, topic: string): MessageBus {
  const common = {
    brokers,
    clientId: `bus-bench-${client}`,
    topic,
    partitions: PARTITIONS,
    replicationFactor: 1,
    gatewayId: `bench-${client}`,
    lingerMs: 2,
    batchMax: 500,
    logger: quietLogger,
  };
  if (client === 'platformatic') return new PlatformaticBus(common);
  if (client === 'memory') return new MemoryBus();
  const wait = /^kafkajs-mw(\d+)$/.exec(client)?.[1];
  if (wait !== undefined) {
    // Bench only: the same KafkaBus, with another fetch wait for its consumer.
    const original = Kafka.prototype.consumer;
    Kafka.prototype.consumer = function (this: Kafka, config) {
      return original.call(this, { ...config, maxWaitTimeInMs: Number(wait) });
    };
  } else if (client !== 'kafkajs') {
    throw new Error(`unknown client ${client}`);
  }
  return new KafkaBus(common);
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

function cpuUs(): number {
  const { user, system } = process.cpuUsage();
  return user + system;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Publishes `count` messages at `rate`/s, open loop: the schedule never waits for the broker. */
async function publishAtRate(
  bus: MessageBus,
  run: string,
  count: number,
  rate: number,
  sentAt: Map<string, number>,
): Promise<number> {
  let sent = 0;
  let errors = 0;
  const pending: Array<Promise<void>> = [];
  const start = performance.now();
  await new Promise<void>((resolve) => {
    const tick = (): void => {
      const due = Math.min(count, Math.floor(((performance.now() - start) / 1000) * rate));
      for (; sent < due; sent++) {
        const id = `${run}-${sent}`;
        const message: StoredMessage = {
          id,
          from: 'bench-sender',
          to: `user${sent % 500}`,
          body: BODY,
          ts: Date.now(),
          seq: sent + 1,
        };
        sentAt.set(id, performance.now());
        pending.push(bus.publish(message, [ROUTE]).catch(() => void (errors += 1)));
      }
      if (sent >= count) resolve();
      else setTimeout(tick, 1);
    };
    tick();
  });
  await Promise.all(pending);
  return errors;
}

/** One measurement, in this (child) process. */
async function runOne(client: ClientName, rate: number): Promise<RunResult> {
  const topic = `postbox.bench.bus.${client}.${randomBytes(4).toString('hex')}`;
  const bus = makeBus(client, topic);
  const sentAt = new Map<string, number>();
  const latencies: number[] = [];
  let delivered = 0;
  let onDelivered: (() => void) | undefined;
  await bus.start((messages) => {
    const now = performance.now();
    for (const m of messages) {
      const at = sentAt.get(m.id);
      if (at === undefined) continue;
      sentAt.delete(m.id);
      latencies.push(now - at);
      delivered += 1;
    }
    onDelivered?.();
  }, ROUTE);
  const waitDelivered = (count: number, timeoutMs: number): Promise<void> =>
    new Promise((resolve) => {
      const timer = setTimeout(done, timeoutMs);
      function done(): void {
        clearTimeout(timer);
        onDelivered = undefined;
        resolve();
      }
      onDelivered = () => delivered >= count && done();
      onDelivered();
    });

  // Warm-up (JIT, connections, metadata), not measured.
  const warm = Math.min(2_000, N);
  await publishAtRate(bus, 'warm', warm, rate, sentAt);
  await waitDelivered(warm, 30_000);
  await sleep(500);
  latencies.length = 0;
  delivered = 0;
  sentAt.clear();

  const cpu0 = cpuUs();
  const t0 = performance.now();
  const publishErrors = await publishAtRate(bus, 'run', N, rate, sentAt);
  await waitDelivered(N - publishErrors, 60_000);
  const cpu1 = cpuUs();
  const wallS = (performance.now() - t0) / 1000;

  await sleep(2_000); // let the last fetches and timers settle
  const idle0 = cpuUs();
  const idleT0 = performance.now();
  await sleep(IDLE_S * 1000);
  const idleCpuPct = ((cpuUs() - idle0) / ((performance.now() - idleT0) * 1000)) * 100;

  latencies.sort((a, b) => a - b);
  const result: RunResult = {
    client,
    rate,
    n: N,
    delivered,
    publishErrors,
    cpuUsPerMsg: (cpu1 - cpu0) / N,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    maxMs: latencies[latencies.length - 1] ?? Number.NaN,
    wallS,
    idleCpuPct,
  };
  await bus.stop();
  if (client !== 'memory') {
    const admin = new Kafka({ clientId: 'bus-bench-admin', brokers, logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
    await admin.disconnect();
  }
  return result;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[mid] ?? NaN)
    : ((sorted[mid - 1] ?? NaN) + (sorted[mid] ?? NaN)) / 2;
}

const f = (value: number, digits = 1): string => (Number.isFinite(value) ? value.toFixed(digits) : 'n/a');
const spread = (values: number[], digits = 1): string =>
  `${f(median(values), digits)} (${f(Math.min(...values), digits)}–${f(Math.max(...values), digits)})`;

/** The child runs this file's TypeScript as the parent does. */
function childExecArgv(): string[] {
  const argv = process.execArgv;
  return argv.some((arg) => arg.includes('ts-node'))
    ? argv
    : [...argv, '-r', 'ts-node/register/transpile-only'];
}

async function main(): Promise<void> {
  if (process.argv[2] === '--one') {
    const result = await runOne(process.argv[3] as ClientName, Number(process.argv[4]));
    process.stdout.write(`${JSON.stringify(result)}\n`);
    process.exit(0); // a client's late timers must not hold the measurement open
  }
  const results: RunResult[] = [];
  console.log(
    `bus-compare: N=${N} messages of ${BODY.length} B per run, rates ${RATES.join(', ')}/s, ` +
      `${REPS} reps, idle ${IDLE_S} s, clients ${SELECTED.join(', ')}, node ${process.version}`,
  );
  for (let rep = 0; rep < REPS; rep++) {
    const order = rep % 2 === 0 ? SELECTED : [...SELECTED].reverse();
    for (const rate of RATES) {
      for (const client of order) {
        const output = execFileSync(
          process.execPath,
          [...childExecArgv(), __filename, '--one', client, String(rate)],
          { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], timeout: 300_000 },
        );
        const result = JSON.parse(output.trim().split('\n').pop() ?? '{}') as RunResult;
        results.push(result);
        console.log(
          `rep ${rep + 1} ${client.padEnd(15)} ${String(rate).padStart(5)}/s: ` +
            `${f(result.cpuUsPerMsg)} µs CPU/msg, p50 ${f(result.p50Ms, 2)} ms, p99 ${f(result.p99Ms, 2)} ms, ` +
            `max ${f(result.maxMs)} ms, idle ${f(result.idleCpuPct, 2)} % of a core, ` +
            `delivered ${result.delivered}/${result.n}, publish errors ${result.publishErrors}, ${f(result.wallS)} s`,
        );
      }
    }
  }
  console.log('\nmedian (min–max) over the repetitions:');
  console.log('| client | rate/s | CPU µs/msg | p50 ms | p99 ms | idle CPU % of a core |');
  console.log('|---|---:|---:|---:|---:|---:|');
  for (const rate of RATES) {
    for (const client of SELECTED) {
      const runs = results.filter((r) => r.client === client && r.rate === rate);
      console.log(
        `| ${client} | ${rate} | ${spread(runs.map((r) => r.cpuUsPerMsg))} | ${spread(
          runs.map((r) => r.p50Ms),
          2,
        )} | ${spread(
          runs.map((r) => r.p99Ms),
          2,
        )} | ${spread(
          runs.map((r) => r.idleCpuPct),
          2,
        )} |`,
      );
    }
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
