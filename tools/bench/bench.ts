/**
 * `make bench`: simulated users over real nginx to two real gateways on the native Redis and
 * Kafka of this machine. Prints figures (throughput, latency percentiles, errors, gateway memory
 * per idle connection); it asserts nothing. Env: BENCH_PAIRS (200), BENCH_RATES
 * ("1000,2500,5000,7500"), BENCH_SECONDS (10), BENCH_BODY_BYTES (100), BENCH_IDLE (10000).
 */
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import { resolve } from 'node:path';
import { startGateway, isolatedEnv, type GatewayProcess } from '../../tests/support/gateways';
import { startNginx } from '../../tests/support/nginx';
import { tokenFor } from '../../tests/support/tokens';
import { openPeer, runStep, type Peer } from './load';
import { fmt } from './stats';
import { measureIdleMemory } from './idle';
import { describeStep, scrape } from './breakdown';

const ROOT = resolve(__dirname, '..', '..');
const numberEnv = (name: string, fallback: number) => Number(process.env[name] ?? fallback);

function ensureInfrastructure(): void {
  if (!process.env.REDIS_URL || !process.env.KAFKA_BROKERS) {
    execFileSync(resolve(ROOT, 'tools/redis.sh'), ['start'], { stdio: 'inherit' });
    execFileSync(resolve(ROOT, 'tools/kafka.sh'), ['start'], { stdio: 'inherit' });
    process.env.REDIS_URL = 'redis://127.0.0.1:16379';
    process.env.KAFKA_BROKERS = '127.0.0.1:19092';
  }
}

async function connectPairs(url: string, pairs: number): Promise<{ senders: Peer[]; recipients: Peer[] }> {
  const senders: Peer[] = [];
  const recipients: Peer[] = [];
  for (let i = 0; i < pairs; i += 1) {
    const [from, to] = [`bench-s${i}`, `bench-r${i}`];
    recipients.push(await openPeer(url, to, await tokenFor(to)));
    senders.push(await openPeer(url, from, await tokenFor(from)));
  }
  return { senders, recipients };
}

async function main(): Promise<void> {
  ensureInfrastructure();
  const pairs = numberEnv('BENCH_PAIRS', 200);
  const rates = (process.env.BENCH_RATES ?? '1000,2500,5000,7500').split(',').map(Number);
  const seconds = numberEnv('BENCH_SECONDS', 10);
  const bodyBytes = numberEnv('BENCH_BODY_BYTES', 100);
  const env = {
    ...isolatedEnv(),
    LOG_LEVEL: 'warn',
    RATE_SENDS_PER_SECOND: '10000',
    RATE_SEND_BURST: '10000',
  };
  // e.g. BENCH_GATEWAY_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" profiles the gateways.
  const nodeArgs = ['--expose-gc', ...(process.env.BENCH_GATEWAY_NODE_ARGS ?? '').split(' ').filter(Boolean)];
  console.log(
    `postbox bench: ${os.cpus().length} cores (${os.cpus()[0]?.model ?? '?'}), ${fmt(os.totalmem() / 2 ** 30, 0)} GiB, node ${process.version}`,
  );
  console.log('starting 2 gateways and nginx on the native Redis and Kafka...');
  const gateways: GatewayProcess[] = await Promise.all([
    startGateway({ env, nodeArgs }),
    startGateway({ env, nodeArgs }),
  ]);
  const edge = await startNginx({
    upstreamPorts: gateways.map((gateway) => gateway.port),
    connLimitPerIp: 60_000,
  });
  try {
    const { senders, recipients } = await connectPairs(edge.url, pairs);
    console.log(
      `${pairs} senders → ${pairs} recipients through nginx; open-loop steps of ${seconds} s, ${bodyBytes}-byte bodies\n`,
    );
    console.log('offered/s  accepted/s  delivered/s  p50 ms  p99 ms  p99.9 ms  errors');
    for (const rate of rates) {
      const before = await scrape(gateways);
      const step = await runStep(senders, recipients, rate, seconds, bodyBytes);
      const breakdown = describeStep(before, await scrape(gateways));
      const errors = [...step.errors].map(([code, n]) => `${code}:${n}`).join(' ') || '0';
      console.log(
        `${String(rate).padStart(9)}  ${fmt(step.accepted / seconds, 0).padStart(10)}  ${fmt(step.delivered / seconds, 0).padStart(11)}  ` +
          `${fmt(step.latencyMs.percentile(50)).padStart(6)}  ${fmt(step.latencyMs.percentile(99)).padStart(6)}  ${fmt(step.latencyMs.percentile(99.9)).padStart(8)}  ${errors}`,
      );
      console.log(`           ${breakdown}`);
    }
    for (const peer of [...senders, ...recipients]) peer.ws.close();
    const idle = numberEnv('BENCH_IDLE', 10_000);
    if (idle > 0 && gateways[0] !== undefined) await measureIdleMemory(gateways[0], idle);
  } finally {
    await edge.stop();
    await Promise.all(gateways.map((gateway) => gateway.stop()));
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(`bench failed: ${error instanceof Error ? error.stack : String(error)}`);
    process.exit(1);
  },
);
