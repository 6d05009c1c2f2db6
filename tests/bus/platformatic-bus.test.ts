/**
 * PlatformaticBus against the real broker (KAFKA_BROKERS): the shared MessageBus contract, then
 * what KafkaBus's suite checks beyond it, then its error paths. One run-unique topic per file;
 * every bus starts at the topic's end, so tests sharing the topic do not see each other's messages.
 */
import { randomBytes } from 'node:crypto';
import { Kafka, logLevel, Partitioners, type Admin, type Producer } from 'kafkajs';
import { createLogger } from '@postbox/logger';
import { describeMessageBusContract, Inbox, makeMessage } from '../../services/gateway/src/bus/bus.contract';
import { PlatformaticBus, type PlatformaticBusOptions } from '../../services/gateway/src/bus/platformatic';
import { kafkaBrokers } from '../support/infra';
import { capturingLogger } from '../support/logs';

// @platformatic/kafka is ESM only. Node (>= 20.19) loads it with require(esm); jest 29's module
// registry cannot, and its `module.createRequire` leads back into that registry. So the bus gets
// the package as Node's own require loads it (the class jest's `Module` extends is Node's).
jest.mock('@platformatic/kafka', () => {
  const jestModule = jest.requireActual<typeof import('node:module')>('node:module');
  const nodeModule = Object.getPrototypeOf(jestModule.Module) as typeof import('node:module');
  return nodeModule.createRequire(__filename)('@platformatic/kafka') as unknown;
});

// The integration project's testTimeout is not applied per project by jest 29; set it here.
jest.setTimeout(60_000);

const PARTITIONS = 3;
const topic = `postbox.test.plt.${process.pid}.${randomBytes(4).toString('hex')}`;
const brokers = kafkaBrokers();

function makeBus(gatewayId: string, overrides: Partial<PlatformaticBusOptions> = {}): PlatformaticBus {
  return new PlatformaticBus({
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
  const kafka = new Kafka({ clientId: 'postbox-plt-bus-test', brokers, logLevel: logLevel.ERROR });
  admin = kafka.admin();
  rawProducer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await Promise.all([admin.connect(), rawProducer.connect()]);
});

afterAll(async () => {
  await admin.deleteTopics({ topics: [topic] }).catch(() => undefined); // best effort: the topic may not exist
  await Promise.all([admin.disconnect(), rawProducer.disconnect()]);
});

describeMessageBusContract(
  'platformatic',
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

describe('PlatformaticBus', () => {
  const buses: PlatformaticBus[] = [];
  const started = async (bus: PlatformaticBus, route = 0, inbox = new Inbox()): Promise<Inbox> => {
    buses.push(bus);
    await bus.start(inbox.handler, route);
    return inbox;
  };

  afterEach(async () => {
    await Promise.all(buses.splice(0).map((bus) => bus.stop()));
  });

  it('creates the topic with the configured partitions, and a second bus finds it there', async () => {
    await started(makeBus('topic-check'), 0);
    await started(makeBus('topic-check-2'), 1);
    const metadata = await admin.fetchTopicMetadata({ topics: [topic] });
    expect(metadata.topics[0]?.partitions).toHaveLength(PARTITIONS);
  });

  it('produces each record to the partitions of its routes; a bus reads only its own, with no group', async () => {
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
    const after = await admin.fetchTopicOffsets(topic);
    for (const { partition, offset } of after) {
      const start = before.find((p) => p.partition === partition)?.offset ?? '0';
      const expected = sent.filter((_, n) => routesOf(n).includes(partition)).length;
      expect(Number(offset) - Number(start)).toBe(expected);
    }
    const { groups } = await admin.listGroups();
    expect(groups.filter((g) => g.groupId.startsWith('postbox-gw-routes'))).toEqual([]);
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

  it('delivers within milliseconds although an idle fetch may wait 5 s (long poll)', async () => {
    const inbox = await started(makeBus('long-poll'), 1);
    // Let the first fetch go idle: the broker now holds it for up to maxWaitTime.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const message = makeMessage(randomBytes(4).toString('hex'), 1, 'alice', 1);
    const sentAt = Date.now();
    await buses[0]?.publish(message, [1]);
    await inbox.waitForIds([message.id], 'the message', 20_000);
    expect(Date.now() - sentAt).toBeLessThan(1_000);
  });

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

  it('keeps delivering when the handler throws, and logs it', async () => {
    const { logger, lines } = capturingLogger();
    const inbox = new Inbox();
    let calls = 0;
    const bus = makeBus('throwing', { logger });
    buses.push(bus);
    await bus.start((batch) => {
      calls += 1;
      if (calls === 1) throw new Error('handler exploded');
      inbox.handler(batch);
    }, 0);
    const run = randomBytes(4).toString('hex');
    await bus.publish(makeMessage(run, 1, 'alice', 1), [0]);
    await new Promise((resolve) => setTimeout(resolve, 500)); // the first batch reaches the handler alone
    const second = makeMessage(run, 2, 'alice', 2);
    await bus.publish(second, [0]);
    await inbox.waitForIds([second.id], 'the message after the failed batch', 20_000);
    expect(lines.some((line) => line.includes('bus handler failed'))).toBe(true);
  });
});

describe('PlatformaticBus without a broker', () => {
  it('rejects start and publishes within seconds when the broker is unreachable, and can be stopped', async () => {
    const bus = makeBus('dead', { brokers: ['127.0.0.1:1'] });
    const startedAt = Date.now();
    await expect(bus.start(new Inbox().handler, 0)).rejects.toThrow();
    expect(Date.now() - startedAt).toBeLessThan(15_000);
    await expect(bus.publish(makeMessage('dead', 1, 'alice', 1), [0])).rejects.toThrow('bus not started');
    expect(bus.isReady()).toBe(false);
    await bus.stop();
    await expect(bus.publish(makeMessage('dead', 2, 'alice', 1), [0])).rejects.toThrow('bus stopped');
  }, 30_000);

  it('refuses publishes before start, and a route that is not a partition', async () => {
    const bus = makeBus('not-started');
    await expect(bus.publish(makeMessage('ns', 1, 'alice', 1), [0])).rejects.toThrow('bus not started');
    await expect(bus.start(new Inbox().handler, PARTITIONS)).rejects.toThrow('not a partition');
    expect(bus.isReady()).toBe(false);
    await bus.stop();
  });
});
