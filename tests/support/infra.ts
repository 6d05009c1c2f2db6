/** Where the integration suites find real Redis and Kafka (set by global-setup.ts or by `make test`). */
import { randomBytes } from 'node:crypto';

/** A run-unique name for Kafka topics, consumer groups and Redis key prefixes. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${process.pid}-${randomBytes(4).toString('hex')}`;
}

function required(name: string, example: string): string {
  const value = process.env[name];
  if (!value) {
    throw new Error(
      `${name} is not set. Run integration tests through jest's globalSetup (npx jest --selectProjects integration) ` +
        `or make test, or export ${name}=${example}.`,
    );
  }
  return value;
}

export function redisUrl(): string {
  return required('REDIS_URL', 'redis://127.0.0.1:16379');
}

export function kafkaBrokers(): string[] {
  return required('KAFKA_BROKERS', '127.0.0.1:19092')
    .split(',')
    .map((broker) => broker.trim())
    .filter(Boolean);
}
