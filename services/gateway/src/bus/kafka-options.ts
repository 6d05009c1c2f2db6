/**
 * What every Kafka MessageBus shares, whichever client it is built on (kafka.ts on kafkajs,
 * platformatic.ts on @platformatic/kafka): its options, and the publish queue in front of the
 * producer with the same bounds.
 */
import type { Logger } from '@postbox/logger';
import { PublishQueue, type SendRecords } from './publish-queue';

export interface KafkaBusOptions {
  brokers: string[];
  clientId: string;
  topic: string;
  /** Partitions = routes; an existing topic with fewer is grown to this many at start. */
  partitions: number;
  replicationFactor: number;
  gatewayId: string;
  lingerMs: number;
  batchMax: number;
  logger: Logger;
}

/** Publishes queued or in flight; beyond this they reject at once (the mailbox keeps the message). */
const MAX_PENDING_PUBLISHES = 10_000;
/** Under the broker's default message.max.bytes (1,048,588), with room for batch overhead. */
const MAX_BATCH_BYTES = 900_000;
const FAIL_FAST_MS = 1_000;
/** How long `stop` waits for queued publishes. */
export const STOP_FLUSH_MS = 5_000;
/** Metadata checks for partition leaders of a topic just created (by this gateway or another). */
export const LEADER_ATTEMPTS = 50;
export const LEADER_RETRY_MS = 100;

export function publishQueue(send: SendRecords, options: KafkaBusOptions): PublishQueue {
  return new PublishQueue(send, {
    lingerMs: options.lingerMs,
    batchMax: options.batchMax,
    batchMaxBytes: MAX_BATCH_BYTES,
    maxPending: MAX_PENDING_PUBLISHES,
    failFastMs: FAIL_FAST_MS,
  });
}
