/**
 * Exits 0 once a Kafka broker answers a metadata request, 1 after the timeout.
 * Usage: node -r ts-node/register/transpile-only tools/kafka-ready.ts <host:port> <timeoutSeconds>
 */
import { Kafka, logLevel } from 'kafkajs';

async function main(): Promise<void> {
  const [broker = '127.0.0.1:19092', timeoutArg = '60'] = process.argv.slice(2);
  const deadline = Date.now() + Number(timeoutArg) * 1000;
  const kafka = new Kafka({
    clientId: 'postbox-kafka-ready',
    brokers: [broker],
    logLevel: logLevel.NOTHING,
    retry: { retries: 0 },
    connectionTimeout: 2000,
  });
  let lastError: unknown;
  while (Date.now() < deadline) {
    const admin = kafka.admin();
    try {
      await admin.connect();
      const cluster = await admin.describeCluster();
      await admin.listTopics();
      process.stdout.write(` ok (controller ${cluster.controller ?? 'unknown'})\n`);
      await admin.disconnect();
      return;
    } catch (error) {
      lastError = error;
      await admin.disconnect().catch(() => undefined);
      process.stdout.write('.');
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
  process.stdout.write('\n');
  console.error(`kafka at ${broker} did not answer a metadata request: ${String(lastError)}`);
  process.exit(1);
}

void main();
