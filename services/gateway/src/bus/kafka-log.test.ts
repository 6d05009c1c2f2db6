/**
 * kafkajs log entries seen on a healthy gateway start (copied from real logs) must not read as
 * errors; what an operator must act on still does.
 */
import { Writable } from 'node:stream';
import { logLevel, type LogEntry } from 'kafkajs';
import { createLogger } from '@postbox/logger';
import { kafkaLogLevel, pinoLogCreator } from './kafka-log';

function entry(
  level: logLevel,
  namespace: string,
  message: string,
  fields: Record<string, unknown> = {},
): LogEntry {
  return {
    namespace,
    level,
    label: logLevel[level],
    log: { timestamp: '2026-12-03T10:00:00.000Z', logger: 'kafkajs', message, ...fields },
  };
}

/** Runs entries through pinoLogCreator into a real pino logger; returns the JSON lines. */
function logged(...entries: LogEntry[]): Array<Record<string, unknown>> {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  const logger = createLogger({ name: 'test', level: 'debug', pretty: false }, sink);
  const log = pinoLogCreator(logger)(logLevel.DEBUG);
  for (const one of entries) log(one);
  return lines;
}

const PINO = { debug: 20, info: 30, warn: 40, error: 50 };

const coordinatorLoading = entry(
  logLevel.ERROR,
  'Connection',
  'Response FindCoordinator(key: 10, version: 2)',
  {
    broker: '127.0.0.1:19092',
    clientId: 'gw-1',
    error: "The coordinator is loading and hence can't process requests for this group",
    correlationId: 3,
    size: 55,
  },
);
const topicExists = entry(logLevel.ERROR, 'Connection', 'Response CreateTopics(key: 19, version: 3)', {
  broker: '127.0.0.1:19092',
  clientId: 'gw-1',
  error: 'Topic creation errors',
  correlationId: 2,
  size: 82,
});

test('a healthy start logs no error: coordinator loading and topic-exists answers are debug', () => {
  const lines = logged(coordinatorLoading, topicExists);
  expect(lines.map((line) => line.level)).toEqual([PINO.debug, PINO.debug]);
  expect(lines[0]).toMatchObject({
    msg: 'Response FindCoordinator(key: 10, version: 2)',
    kafka: 'Connection',
    error: "The coordinator is loading and hence can't process requests for this group",
  });
  expect(lines[0]).not.toHaveProperty('timestamp');
});

test("kafkajs' note on the producer's bounded retries (set on purpose) is info, not a warning at every start", () => {
  const lines = logged(
    entry(
      logLevel.WARN,
      'Producer',
      'Limiting retries for the idempotent producer may invalidate EoS guarantees',
    ),
  );
  expect(lines.map((line) => line.level)).toEqual([PINO.info]);
});

test('a retried transient condition is info, a retried unknown one a warning', () => {
  expect(
    kafkaLogLevel(
      logLevel.ERROR,
      'Producer',
      "Failed to send messages: The coordinator is loading and hence can't process requests for this group",
      { retryCount: 1, retryTime: 200 },
    ),
  ).toBe('info');
  expect(
    kafkaLogLevel(
      logLevel.ERROR,
      'BrokerPool',
      'Failed to connect to seed broker, trying another broker from the list: Connection error: connect ECONNREFUSED 127.0.0.1:19092',
      { retryCount: 0, retryTime: 100 },
    ),
  ).toBe('warn');
});

test('another failed response is info (its caller reports what matters), a rejoin is info', () => {
  expect(
    kafkaLogLevel(logLevel.ERROR, 'Connection', 'Response Produce(key: 0, version: 7)', {
      error: 'Broker: Topic authorization failed',
    }),
  ).toBe('info');
  expect(
    kafkaLogLevel(
      logLevel.ERROR,
      'Runner',
      'The coordinator is not aware of this member, re-joining the group',
      {
        groupId: 'g',
      },
    ),
  ).toBe('info');
});

test('what an operator must act on stays an error or a warning', () => {
  const lines = logged(
    entry(logLevel.ERROR, 'Consumer', 'Crash: KafkaJSNumberOfRetriesExceeded: Connection error', {
      groupId: 'g',
      retryCount: 3,
    }),
    entry(logLevel.ERROR, 'Connection', 'Connection error: connect ECONNREFUSED 127.0.0.1:19092', {
      broker: '127.0.0.1:19092',
    }),
    entry(logLevel.WARN, 'Consumer', 'something kafkajs warns about'),
    entry(logLevel.INFO, 'Consumer', 'Starting'),
  );
  expect(lines.map((line) => line.level)).toEqual([PINO.error, PINO.error, PINO.warn, PINO.info]);
});
