/**
 * Routes kafkajs' own log lines into the gateway's pino logger, so one stream holds everything,
 * at a level that says what an operator must do about them.
 *
 * kafkajs logs at ERROR many things it then retries or hands to its caller: every failed
 * response (`Response JoinGroup(…)` with "The coordinator is loading…", `Response
 * CreateTopics(…)` with "Topic creation errors" when the topic already exists), every retried
 * send, every reconnect. On a healthy start they are expected, so here:
 *   - a failed response whose error is a transient one Kafka tells clients to retry → debug;
 *     any other failed response → info (the caller gets the error and reports or retries it);
 *   - a retry (the entry carries `retryCount`) of a transient error → info; of anything else
 *     (the broker is unreachable, …) → warn;
 *   - the consumer rejoining its group, and kafkajs' note on the producer's bounded retries
 *     (set that way on purpose in kafka.ts) → info;
 *   - everything else keeps kafkajs' level (a consumer crash stays an error).
 */
import { logLevel, type LogEntry, type logCreator } from 'kafkajs';
import type { Logger } from '@postbox/logger';

export type PinoLevel = 'error' | 'warn' | 'info' | 'debug';

/**
 * Broker answers that mean "not yet, ask again" (kafkajs marks them retriable), plus the
 * topic-exists answer to the create that every start makes.
 */
const TRANSIENT = [
  "The coordinator is loading and hence can't process requests for this group",
  'The group coordinator is not available',
  'This is not the correct coordinator for this group',
  'The group is rebalancing, so a rejoin is needed',
  'There is no leader for this topic-partition as we are in the middle of a leadership election',
  'This server is not the leader for that topic-partition',
  'This server does not host this topic-partition',
  'This is not the correct controller for this cluster',
  'Topic with this name already exists',
  // createTopics' answer when some topic was not created; on a start it is the topic that exists.
  'Topic creation errors',
];

/** Expected events and deliberate settings kafkajs reports as warnings or errors: info. */
const EXPECTED = [
  'The coordinator is not aware of this member, re-joining the group',
  'The group is rebalancing, re-joining',
  // kafka.ts bounds the producer's retries on purpose (a dead broker fails a send in seconds);
  // a repeated record is harmless: receivers drop a mailbox seq they already have.
  'Limiting retries for the idempotent producer may invalidate EoS guarantees',
];

function isTransient(text: string): boolean {
  return TRANSIENT.some((known) => text.includes(known));
}

/** The pino level for one kafkajs entry (`message` and the entry's other fields). */
export function kafkaLogLevel(
  level: logLevel,
  namespace: string,
  message: string,
  fields: Record<string, unknown>,
): PinoLevel {
  const base = baseLevel(level);
  if (base !== 'error' && base !== 'warn') return base;
  const error = typeof fields.error === 'string' ? fields.error : '';
  if (namespace === 'Connection' && message.startsWith('Response ')) {
    return isTransient(error) ? 'debug' : 'info';
  }
  if (EXPECTED.some((known) => message.startsWith(known))) return 'info';
  if ('retryCount' in fields && !message.startsWith('Crash')) {
    return isTransient(message) || isTransient(error) ? 'info' : 'warn';
  }
  return base;
}

function baseLevel(level: logLevel): PinoLevel {
  switch (level) {
    case logLevel.ERROR:
    case logLevel.NOTHING:
      return 'error';
    case logLevel.WARN:
      return 'warn';
    case logLevel.INFO:
      return 'info';
    default:
      return 'debug';
  }
}

export function pinoLogCreator(logger: Logger): logCreator {
  return () =>
    ({ namespace, level, log }: LogEntry) => {
      // kafkajs adds its own timestamp and logger name; pino has both already.
      const { message, timestamp, logger: origin, ...fields } = log;
      void timestamp;
      void origin;
      const entry = { ...fields, kafka: namespace };
      logger[kafkaLogLevel(level, namespace, message, fields)](entry, message);
    };
}
