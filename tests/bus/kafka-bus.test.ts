/**
 * KafkaBus against the real broker (KAFKA_BROKERS): the shared MessageBus contract, then what is
 * specific to Kafka. One run-unique topic per file; every bus starts at the topic's end, so tests
 * sharing the topic do not see each other's messages.
 */
import { randomBytes } from 'node:crypto';
import { Kafka, logLevel, Partitioners, type Admin, type Producer } from 'kafkajs';
import { createLogger } from '@postbox/logger';
import { describeMessageBusContract, Inbox, makeMessage } from '../../services/gateway/src/bus/bus.contract';
import { KafkaBus, type KafkaBusOptions } from '../../services/gateway/src/bus/kafka';
import { kafkaBrokers } from '../support/infra';
import { capturingLogger } from '../support/logs';

// The integration project's testTimeout is not applied per project by jest 29; set it here.
jest.setTimeout(60_000);

const PARTITIONS = 3;
const topic = `postbox.test.${process.pid}.${randomBytes(4).toString('hex')}`;
const brokers = kafkaBrokers();

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
  const started = async (bus: KafkaBus, route = 0, inbox = new Inbox()): Promise<Inbox> => {
    buses.push(bus);
    await bus.start(inbox.handler, route);
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

  it('produces each record, keyed by recipient, to the partitions of its routes; a bus reads only its own', async () => {
    const inbox = await started(makeBus('routes'), 2);
    const run = randomBytes(4).toString('hex');
    const sent = Array.from({ length: 60 }, (_, n) => makeMessage(run, n, `user${n % 6}`, n + 1));
    const routesOf = (n: number): number[] => (n % 4 === 3 ? [0, 1, 2] : [n % 3]);
    const before = await admin.fetchTopicOffsets(topic);
    await Promise.all(sent.map((m, n) => buses[0]?.publish(m, routesOf(n))));
    const mine = sent.filter((_, n) => routesOf(n).includes(2));
    await inbox.waitForIds(
      mine.map((m) => m.id),
      'the records of route 2',
      20_000,
    );
    expect(inbox.messages.map((m) => m.id).sort()).toEqual(mine.map((m) => m.id).sort());

    const copies = sent.reduce((total, _, n) => total + routesOf(n).length, 0);
    const records = await readRecords(before, copies);
    for (const { key, to } of records) expect(key).toBe(to);
    const partitionsOf = (id: string) =>
      records
        .filter((r) => r.id === id)
        .map((r) => r.partition)
        .sort();
    sent.forEach((m, n) => expect(partitionsOf(m.id)).toEqual(routesOf(n)));
  });

  it('grows an older topic with fewer partitions than routes', async () => {
    const small = `${topic}.small`;
    await admin.createTopics({
      topics: [{ topic: small, numPartitions: 1, replicationFactor: 1 }],
      waitForLeaders: true,
    });
    try {
      const inbox = await started(makeBus('grow', { topic: small }), 2);
      const metadata = await admin.fetchTopicMetadata({ topics: [small] });
      expect(metadata.topics[0]?.partitions).toHaveLength(PARTITIONS);
      const message = makeMessage(randomBytes(4).toString('hex'), 1, 'alice', 1);
      await buses[buses.length - 1]?.publish(message, [2]);
      await inbox.waitForIds([message.id], 'a record on the new partition', 20_000);
    } finally {
      await Promise.all(buses.splice(0).map((bus) => bus.stop()));
      await admin.deleteTopics({ topics: [small] }).catch(() => undefined);
    }
  });

  it('delivers a publish made right after start to a freshly started gateway', async () => {
    const publisher = makeBus('early-pub');
    await started(publisher, 0);
    for (let round = 0; round < 5; round++) {
      const route = round % PARTITIONS;
      const inbox = await started(makeBus(`fresh-${round}`), route);
      const run = randomBytes(4).toString('hex');
      const sent = Array.from({ length: 30 }, (_, n) => makeMessage(run, n, `fresh${n}`, 1));
      await Promise.all(sent.map((m) => publisher.publish(m, [route])));
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
    await expect(bus.start(new Inbox().handler, 0)).rejects.toThrow();
    await expect(bus.publish(makeMessage('dead', 1, 'alice', 1), [0])).rejects.toThrow();
    expect(bus.isReady()).toBe(false);
  }, 30_000);

  it('skips a malformed record, logs it, and keeps delivering', async () => {
    const { logger, lines } = capturingLogger();
    const inbox = await started(makeBus('malformed', { logger }), 0);
    const run = randomBytes(4).toString('hex');
    await rawProducer.send({
      topic,
      messages: [
        { key: 'alice', value: 'not json at all', partition: 0 },
        { key: 'alice', value: JSON.stringify({ id: 'x', to: 'alice' }), partition: 0 },
        { key: 'alice', value: null, partition: 0 },
      ],
    });
    const good = makeMessage(run, 1, 'alice', 1);
    await buses[0]?.publish(good, [0]);
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
): Promise<Array<{ key: string; id: string; to: string; partition: number }>> {
  const kafka = new Kafka({ clientId: 'postbox-bus-test-reader', brokers, logLevel: logLevel.ERROR });
  const consumer = kafka.consumer({
    groupId: `postbox-test-reader-${randomBytes(4).toString('hex')}`,
    maxWaitTimeInMs: 50,
  });
  const records: Array<{ key: string; id: string; to: string; partition: number }> = [];
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
        const field = (name: string): string =>
          typeof parsed === 'object' && parsed !== null && name in parsed
            ? String((parsed as Record<string, unknown>)[name])
            : '';
        records.push({
          key: message.key?.toString('utf8') ?? '',
          id: field('id'),
          to: field('to'),
          partition,
        });
        inbox.handler([]);
      },
    });
    await inbox.waitFor(() => records.length >= count, `${count} raw records`, 20_000);
  } finally {
    await consumer.disconnect();
  }
  return records;
}
