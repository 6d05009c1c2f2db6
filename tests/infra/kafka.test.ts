/** The real broker delivers every message to every consumer group (the gateways' fan-out model). */
import { Kafka, logLevel, type Consumer } from 'kafkajs';
import { kafkaBrokers, uniqueName } from '../support/infra';

const MESSAGES = 60;

function collectAll(consumer: Consumer, topic: string, expected: number): Promise<string[]> {
  return new Promise((resolveAll, reject) => {
    const seen: string[] = [];
    const timer = setTimeout(
      () => reject(new Error(`consumer received ${seen.length}/${expected} messages within 30 s`)),
      30_000,
    );
    consumer
      .subscribe({ topic, fromBeginning: true })
      .then(() =>
        consumer.run({
          eachMessage: async ({ message }) => {
            seen.push(message.value?.toString() ?? '');
            if (seen.length === expected) {
              clearTimeout(timer);
              resolveAll(seen);
            }
          },
        }),
      )
      .catch(reject);
  });
}

describe('kafka (real broker)', () => {
  const kafka = new Kafka({
    clientId: uniqueName('infra-test'),
    brokers: kafkaBrokers(),
    logLevel: logLevel.NOTHING,
  });
  const topic = uniqueName('infra.fanout');
  const admin = kafka.admin();
  const consumers: Consumer[] = [];

  beforeAll(async () => {
    await admin.connect();
    const created = await admin.createTopics({
      topics: [{ topic, numPartitions: 3, replicationFactor: 1 }],
      waitForLeaders: true,
    });
    expect(created).toBe(true);
  });

  afterAll(async () => {
    await Promise.all(consumers.map((consumer) => consumer.disconnect()));
    await admin.deleteTopics({ topics: [topic] });
    await admin.disconnect();
  });

  it('delivers every produced message to each of two consumer groups', async () => {
    const metadata = await admin.fetchTopicMetadata({ topics: [topic] });
    expect(metadata.topics[0]?.partitions).toHaveLength(3);

    const producer = kafka.producer();
    await producer.connect();
    const sent = Array.from({ length: MESSAGES }, (_, i) => `message-${i}`);
    await producer.send({
      topic,
      acks: -1,
      messages: sent.map((value, i) => ({ key: `user-${i % 7}`, value })),
    });
    await producer.disconnect();

    const groups = [uniqueName('infra-group-a'), uniqueName('infra-group-b')];
    const received = await Promise.all(
      groups.map((groupId) => {
        const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 100 });
        consumers.push(consumer);
        return consumer.connect().then(() => collectAll(consumer, topic, MESSAGES));
      }),
    );

    for (const messages of received) {
      expect([...messages].sort()).toEqual([...sent].sort());
    }
    // jest ignores testTimeout inside a project; the consumers' own 30 s deadline must fit.
  }, 60_000);
});
