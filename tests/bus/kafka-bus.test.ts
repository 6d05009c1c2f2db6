/**
 * KafkaBus against the real broker (KAFKA_BROKERS): the shared MessageBus contract, then what is
 * specific to Kafka. One run-unique topic per file; every bus starts at the topic's end, so tests
 * sharing the topic do not see each other's messages.
 */
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { Kafka, logLevel, Partitioners, type Admin, type Producer } from 'kafkajs';
import { createLogger, type Logger } from '@postbox/logger';
import { describeMessageBusContract, Inbox, makeMessage } from '../../services/gateway/src/bus/bus.contract';
import { KafkaBus, type KafkaBusOptions } from '../../services/gateway/src/bus/kafka';
import { kafkaBrokers } from '../support/infra';

// The integration project's testTimeout is not applied per project by jest 29; set it here.
jest.setTimeout(60_000);

const PARTITIONS = 3;
const topic = `postbox.test.${process.pid}.${randomBytes(4).toString('hex')}`;
const brokers = kafkaBrokers();

/** A JSON-lines logger whose output the test can read. */
function capturingLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      lines.push(chunk.toString('utf8'));
      callback();
    },
  });
  return { logger: createLogger({ name: 'bus-test', level: 'warn', pretty: false }, sink), lines };
}

function makeBus(gatewayId: string, overrides: Partial<KafkaBusOptions> = {}): KafkaBus {
  return new KafkaBus({
    brokers,
    clientId: `postbox-test-${gatewayId}`,
    topic,
    partitions: PARTITIONS,
    replicationFactor: 1,
    gatewayId,
    lingerMs: 2,
    batchMax: 500,
    logger: process.env.BUS_TEST_LOG
      ? createLogger({ name: 'bus-test', level: 'warn', pretty: false })
      : capturingLogger().logger,
    ...overrides,
  });
}

let admin: Admin;
let rawProducer: Producer;

beforeAll(async () => {
  const kafka = new Kafka({ clientId: 'postbox-bus-test', brokers, logLevel: logLevel.ERROR });
  admin = kafka.admin();
  rawProducer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await Promise.all([admin.connect(), rawProducer.connect()]);
});

afterAll(async () => {
  await admin.deleteTopics({ topics: [topic] }).catch(() => undefined); // best effort: the topic may not exist
  await Promise.all([admin.disconnect(), rawProducer.disconnect()]);
});

describeMessageBusContract(
  'kafka',
  async () => {
    const a = makeBus('a');
    const b = makeBus('b');
    return {
      a,
      b,
      cleanup: async () => {
        await Promise.all([a.stop(), b.stop()]);
      },
    };
  },
  { deadlineMs: 20_000 },
);

describe('KafkaBus', () => {
  const buses: KafkaBus[] = [];
  const started = async (bus: KafkaBus, inbox = new Inbox()): Promise<Inbox> => {
    buses.push(bus);
    await bus.start(inbox.handler);
    return inbox;
  };

  afterEach(async () => {
    await Promise.all(buses.splice(0).map((bus) => bus.stop()));
  });

  it('creates the topic with the configured partitions', async () => {
    await started(makeBus('topic-check'));
    const metadata = await admin.fetchTopicMetadata({ topics: [topic] });
    expect(metadata.topics[0]?.partitions).toHaveLength(PARTITIONS);
  });

  it('keys every record by recipient, so a recipient stays on one partition', async () => {
    const inbox = await started(makeBus('keys'));
    const run = randomBytes(4).toString('hex');
    const sent = Array.from({ length: 60 }, (_, n) => makeMessage(run, n, `user${n % 6}`, n + 1));
    const before = await admin.fetchTopicOffsets(topic);
    await Promise.all(sent.map((m) => buses[0]?.publish(m)));
    await inbox.waitForIds(
      sent.map((m) => m.id),
      'keyed messages',
      20_000,
    );

    const records = await readRecords(before, sent.length);
    const partitionOf = new Map<string, number>();
    for (const { key, to, partition } of records) {
      expect(key).toBe(to);
      expect(partitionOf.get(to) ?? partition).toBe(partition);
      partitionOf.set(to, partition);
    }
    expect(partitionOf.size).toBe(6);
  });

  it('delivers a publish made right after start, on every partition, to a freshly started gateway', async () => {
    const publisher = makeBus('early-pub');
    await started(publisher);
    for (let round = 0; round < 5; round++) {
      const inbox = await started(makeBus(`fresh-${round}`));
      const run = randomBytes(4).toString('hex');
      // Enough recipients that every partition receives at least one message.
      const sent = Array.from({ length: 30 }, (_, n) => makeMessage(run, n, `fresh${n}`, 1));
      await Promise.all(sent.map((m) => publisher.publish(m)));
      await inbox.waitForIds(
        sent.map((m) => m.id),
        `post-start publishes (round ${round})`,
        20_000,
      );
    }
  });

  it('rejects publishes within seconds when the broker is unreachable', async () => {
    const bus = makeBus('dead', { brokers: ['127.0.0.1:1'] });
    buses.push(bus);
    await expect(bus.start(new Inbox().handler)).rejects.toThrow();
    await expect(bus.publish(makeMessage('dead', 1, 'alice', 1))).rejects.toThrow();
    expect(bus.isReady()).toBe(false);
  }, 30_000);

  it('skips a malformed record, logs it, and keeps delivering', async () => {
    const { logger, lines } = capturingLogger();
    const inbox = await started(makeBus('malformed', { logger }));
    const run = randomBytes(4).toString('hex');
    await rawProducer.send({
      topic,
      messages: [
        { key: 'alice', value: 'not json at all' },
        { key: 'alice', value: JSON.stringify({ id: 'x', to: 'alice' }) },
        { key: 'alice', value: null },
      ],
    });
    const good = makeMessage(run, 1, 'alice', 1);
    await buses[0]?.publish(good);
    await inbox.waitForIds([good.id], 'the good record after the malformed ones', 20_000);
    expect(inbox.messages.map((m) => m.id)).toEqual([good.id]);
    expect(lines.filter((line) => line.includes('malformed bus record skipped'))).toHaveLength(3);
    expect(buses[0]?.isReady()).toBe(true);
  });
});

/** Reads `count` records produced after `from` straight off the topic, bypassing the bus. */
async function readRecords(
  from: Array<{ partition: number; offset: string }>,
  count: number,
): Promise<Array<{ key: string; to: string; partition: number }>> {
  const kafka = new Kafka({ clientId: 'postbox-bus-test-reader', brokers, logLevel: logLevel.ERROR });
  const consumer = kafka.consumer({
    groupId: `postbox-test-reader-${randomBytes(4).toString('hex')}`,
    maxWaitTimeInMs: 50,
  });
  const records: Array<{ key: string; to: string; partition: number }> = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    const inbox = new Inbox(); // used only for its deadline wait
    await consumer.run({
      autoCommit: false,
      eachMessage: async ({ partition, message }) => {
        const start = from.find((p) => p.partition === partition)?.offset ?? '0';
        if (BigInt(message.offset) < BigInt(start) || message.value === null) return;
        const parsed: unknown = JSON.parse(message.value.toString('utf8'));
        const to = typeof parsed === 'object' && parsed !== null && 'to' in parsed ? String(parsed.to) : '';
        records.push({ key: message.key?.toString('utf8') ?? '', to, partition });
        inbox.handler([]);
      },
    });
    await inbox.waitFor(() => records.length >= count, `${count} raw records`, 20_000);
  } finally {
    await consumer.disconnect();
  }
  return records;
}
