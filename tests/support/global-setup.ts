/**
 * jest globalSetup of the integration project. Resolves real Redis and Kafka, in this order:
 *   1. REDIS_URL and KAFKA_BROKERS already set (make test, CI, your own servers): use them;
 *   2. a Docker engine answers: start Redis and Kafka containers (stopped by global-teardown.ts);
 *   3. otherwise the native stack: tools/redis.sh start and tools/kafka.sh start (left running,
 *      so the next run starts in a second; `make down` stops them).
 * Workers inherit process.env from this process, so tests read the values via tests/support/infra.ts.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { StartedTestContainer } from 'testcontainers';

const ROOT = resolve(__dirname, '..', '..');

/** Containers started here, for global-teardown.ts (same process, so a global works). */
export interface StartedInfra {
  containers: StartedTestContainer[];
}
declare global {
  // A global declaration needs `var`; jest loads setup and teardown as separate modules.
  // eslint-disable-next-line no-var
  var __POSTBOX_INFRA__: StartedInfra | undefined;
}

async function dockerAvailable(): Promise<boolean> {
  if (!process.env.DOCKER_HOST && !existsSync('/var/run/docker.sock')) return false;
  try {
    const { getContainerRuntimeClient } = await import('testcontainers');
    await getContainerRuntimeClient();
    return true;
  } catch (error) {
    console.warn(
      `[global-setup] Docker socket present but not usable, using the native stack: ${String(error)}`,
    );
    return false;
  }
}

async function startContainers(): Promise<void> {
  const [{ KafkaContainer }, { RedisContainer }] = await Promise.all([
    import('@testcontainers/kafka'),
    import('@testcontainers/redis'),
  ]);
  console.log('[global-setup] starting Redis and Kafka containers...');
  const [redis, kafka] = await Promise.all([
    new RedisContainer('redis:7.2-alpine').withCommand(['redis-server', '--appendonly', 'yes']).start(),
    new KafkaContainer('confluentinc/cp-kafka:7.6.1').withKraft().start(),
  ]);
  globalThis.__POSTBOX_INFRA__ = { containers: [redis, kafka] };
  process.env.REDIS_URL = redis.getConnectionUrl();
  process.env.KAFKA_BROKERS = `${kafka.getHost()}:${kafka.getMappedPort(9093)}`;
}

function startNative(): void {
  console.log('[global-setup] no Docker engine: starting the native Redis and Kafka (tools/*.sh)');
  for (const script of ['tools/redis.sh', 'tools/kafka.sh']) {
    execFileSync(resolve(ROOT, script), ['start'], { cwd: ROOT, stdio: 'inherit' });
  }
  process.env.REDIS_URL = `redis://127.0.0.1:${process.env.REDIS_PORT ?? '16379'}`;
  process.env.KAFKA_BROKERS = `127.0.0.1:${process.env.KAFKA_PORT ?? '19092'}`;
}

export default async function globalSetup(): Promise<void> {
  if (process.env.REDIS_URL && process.env.KAFKA_BROKERS) return;
  if (await dockerAvailable()) {
    await startContainers();
  } else {
    startNative();
  }
  console.log(`[global-setup] REDIS_URL=${process.env.REDIS_URL} KAFKA_BROKERS=${process.env.KAFKA_BROKERS}`);
}
