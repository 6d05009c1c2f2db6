/**
 * Reads one partition with @platformatic/kafka's low-level `Consumer.fetch`, no consumer group:
 * one long-poll fetch at a time from the partition's leader (the broker answers as soon as a
 * record arrives, `minBytes` 1), each response handed over in one call. A failed fetch (the client
 * has already retried it) is retried with a backoff from the same offset until `stop`: after a
 * broker restart reading resumes where it stopped; an offset the log no longer has restarts at
 * the end.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { IS_CONTROL, type Consumer, type fetchV17 } from '@platformatic/kafka';
import type { Logger } from '@postbox/logger';
import type { StoredMessage } from '../store/store';
import { decodeRecord } from './record';

export interface PartitionReaderOptions {
  /** Metadata, offsets and fetches only: it never joins a group. */
  consumer: Consumer;
  topic: string;
  partition: number;
  maxWaitTime: number;
  log: Logger;
  /** The end offset now: where reading restarts when its offset has left the log. */
  endOffset: () => Promise<bigint>;
  onMessages: (messages: StoredMessage[]) => void;
  /** False while fetches fail, true again after the first that succeeds. */
  onReading: (reading: boolean) => void;
}

const FETCH_MAX_BYTES = 4 * 1024 * 1024;
const FETCH_BACKOFF_MS = [100, 250, 500, 1_000, 2_000, 5_000];

type FindBy = (property: string, value: unknown) => unknown;

/** Client errors nest (MultipleErrors of ProtocolErrors): looks for a property anywhere in them. */
export function findInError(error: unknown, property: string, value: unknown): boolean {
  const findBy = (error as { findBy?: FindBy } | null)?.findBy;
  return typeof findBy === 'function' && findBy.call(error, property, value) != null;
}

/** Errors thrown by the client may come from another realm (jest): no `instanceof Error`. */
export function toError(error: unknown): Error {
  if (typeof error === 'object' && error !== null && 'message' in error) return error as Error;
  return new Error(String(error));
}

export class PartitionReader {
  private stopped = false;
  private running: Promise<void> = Promise.resolve();

  constructor(private readonly options: PartitionReaderOptions) {}

  start(offset: bigint): void {
    this.running = this.run(offset);
  }

  /** No fetch starts after this; one in flight ends when the consumer is closed. */
  stop(): Promise<void> {
    this.stopped = true;
    return this.running;
  }

  private async run(start: bigint): Promise<void> {
    const { consumer, topic, partition, log } = this.options;
    let offset = start;
    let failures = 0;
    while (!this.stopped) {
      try {
        offset = this.deliver(await this.fetch(offset), offset);
        if (failures > 0) {
          log.info({ partition, failures }, 'bus reading again');
          this.options.onReading(true);
        }
        failures = 0;
      } catch (error) {
        if (this.stopped) break;
        failures += 1;
        if (failures === 1) this.options.onReading(false);
        consumer.clearMetadata();
        if (failures === 1 || failures % 20 === 0) {
          log.warn({ err: toError(error), topic, partition, failures }, 'bus fetch failed; retrying');
        }
        await delay(FETCH_BACKOFF_MS[Math.min(failures, FETCH_BACKOFF_MS.length) - 1]);
        if (findInError(error, 'apiId', 'OFFSET_OUT_OF_RANGE')) {
          offset = await this.options.endOffset().catch(() => offset);
        }
      }
    }
  }

  private async fetch(offset: bigint): Promise<fetchV17.FetchResponse> {
    const { consumer, topic, partition, maxWaitTime } = this.options;
    const metadata = await consumer.metadata({ topics: [topic] }); // cached for a few seconds
    const topicMetadata = metadata.topics.get(topic);
    const leader = topicMetadata?.partitions[partition]?.leader ?? -1;
    if (topicMetadata === undefined || leader < 0) throw new Error(`partition ${partition} has no leader`);
    return consumer.fetch({
      node: leader,
      topics: [
        {
          topicId: topicMetadata.id,
          partitions: [
            {
              partition,
              fetchOffset: offset,
              partitionMaxBytes: FETCH_MAX_BYTES,
              currentLeaderEpoch: -1,
              lastFetchedEpoch: -1,
            },
          ],
        },
      ],
      maxWaitTime,
      minBytes: 1,
      maxBytes: FETCH_MAX_BYTES,
    });
  }

  /** Hands the records of one fetch over in one call; returns the next offset to read. */
  private deliver(response: fetchV17.FetchResponse, requested: bigint): bigint {
    const { partition, log } = this.options;
    let next = requested;
    const messages: StoredMessage[] = [];
    for (const topicResponse of response.responses) {
      for (const partitionResponse of topicResponse.partitions) {
        if (partitionResponse.partitionIndex !== partition) continue;
        for (const batch of partitionResponse.records ?? []) {
          const last = batch.firstOffset + BigInt(batch.lastOffsetDelta);
          if (last + 1n > next) next = last + 1n;
          if ((batch.attributes & IS_CONTROL) !== 0) continue; // transaction markers
          for (const record of batch.records) {
            const offset = batch.firstOffset + BigInt(record.offsetDelta);
            if (offset < requested) continue; // a batch may start before the offset asked for
            const decoded = decodeRecord(record.value);
            if (decoded.ok) {
              messages.push(decoded.message);
            } else {
              log.warn(
                { partition, offset: offset.toString(), reason: decoded.reason },
                'malformed bus record skipped',
              );
            }
          }
        }
      }
    }
    if (messages.length > 0) this.options.onMessages(messages);
    return next;
  }
}
