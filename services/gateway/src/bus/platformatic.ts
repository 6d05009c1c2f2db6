/**
 * The MessageBus on @platformatic/kafka, for the comparison with kafkajs (docs/architecture.md,
 * "Kafka client: kafkajs or @platformatic/kafka"). Same semantics as KafkaBus (bus/kafka.ts): one
 * topic keyed by recipient (the Java-compatible murmur2 partitioner, so both clients put a
 * recipient on the same partition), an idempotent producer with acks=all behind the same
 * PublishQueue, and a consumer group of its own per gateway boot that never commits.
 *
 * Differences that come from the client:
 * - Its clients cannot be reopened once closed, so each `start` attempt builds new ones.
 * - A consumer stream dies on a fetch error that outlived the retries (the consumer itself stays
 *   usable). The bus then opens a new stream from where the dead one stopped, with a backoff,
 *   until `stop`: after a broker restart nothing committed is needed to resume.
 * - The fetch is a long poll (`maxWaitTime`, default 5 s, `minBytes` 1) on a connection of its
 *   own: the broker answers as soon as a record arrives, and an idle gateway sends one fetch per
 *   `maxWaitTime` instead of fifty per second.
 *
 * The package is ESM only: Node >= 20.19 loads it through require(esm) (ts-node, the gateway,
 * tools); jest 29's module registry cannot, see tests/bus/platformatic-bus.test.ts.
 */
import { randomBytes } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import {
  Admin,
  compatibilityPartitioner,
  Consumer,
  MessagesStreamModes,
  Producer,
  stringSerializers,
  type Message,
  type MessagesStream,
} from '@platformatic/kafka';
import type { Logger } from '@postbox/logger';
import type { StoredMessage } from '../store/store';
import type { BusHandler, MessageBus } from './bus';
import { PublishQueue, BusUnavailableError } from './publish-queue';
import { decodeRecord, encodeRecord, type OutboundRecord } from './record';

export interface PlatformaticBusOptions {
  brokers: string[];
  clientId: string;
  topic: string;
  partitions: number;
  replicationFactor: number;
  gatewayId: string;
  lingerMs: number;
  batchMax: number;
  logger: Logger;
  /** How long the broker may hold an empty fetch; it answers at once when a record arrives. */
  maxWaitTimeMs?: number;
}

type Stream = MessagesStream<Buffer, Buffer, Buffer, Buffer>;
type ConsumedRecord = Message<Buffer, Buffer, Buffer, Buffer>;
/** partition → next offset to read. */
type PartitionOffsets = Map<number, bigint>;

interface Clients {
  admin: Admin;
  producer: Producer<string, string, string, string>;
  consumer: Consumer<Buffer, Buffer, Buffer, Buffer>;
}

const MAX_PENDING_PUBLISHES = 10_000;
/** Under the broker's default message.max.bytes (1,048,588), with room for batch overhead. */
const MAX_BATCH_BYTES = 900_000;
const FAIL_FAST_MS = 1_000;
const STOP_FLUSH_MS = 5_000;
const JOIN_TIMEOUT_MS = 30_000;
const LEADER_ATTEMPTS = 50;
const LEADER_RETRY_MS = 100;
const DEFAULT_MAX_WAIT_MS = 5_000;
const RESUME_BACKOFF_MS = [250, 500, 1_000, 2_000, 5_000];

function toError(error: unknown): Error {
  // Errors thrown by the client may come from another realm (jest): no `instanceof Error`.
  if (typeof error === 'object' && error !== null && 'message' in error) return error as Error;
  return new Error(String(error));
}

/** Client errors nest (MultipleErrors of ProtocolErrors): looks for a protocol error id anywhere. */
function hasErrorId(error: unknown, id: string): boolean {
  const findBy = (error as { findBy?: (property: string, value: unknown) => unknown } | null)?.findBy;
  return typeof findBy === 'function' && findBy.call(error, 'apiId', id) != null;
}

function isRetriable(error: unknown): boolean {
  const findBy = (error as { findBy?: (property: string, value: unknown) => unknown } | null)?.findBy;
  return typeof findBy === 'function' && findBy.call(error, 'canRetry', false) == null;
}

export class PlatformaticBus implements MessageBus {
  private readonly queue: PublishQueue;
  private readonly log: Logger;
  private readonly groupId: string;
  private readonly maxWaitTime: number;
  private clients: Clients | undefined;
  private stream: Stream | undefined;
  private handler: BusHandler | undefined;
  private started = false;
  private stopping: Promise<void> | undefined;
  private consuming = false;
  private resuming: Promise<void> | undefined;
  /** Records of the current fetch, handed over in one handler call (like kafkajs' eachBatch). */
  private pending: StoredMessage[] = [];
  private flushScheduled = false;

  constructor(private readonly options: PlatformaticBusOptions) {
    this.log = options.logger.child({ component: 'bus', topic: options.topic, client: 'platformatic' });
    this.groupId = `postbox-gw-${options.gatewayId}-${randomBytes(6).toString('hex')}`;
    this.maxWaitTime = options.maxWaitTimeMs ?? DEFAULT_MAX_WAIT_MS;
    this.queue = new PublishQueue((records) => this.send(records), {
      lingerMs: options.lingerMs,
      batchMax: options.batchMax,
      batchMaxBytes: MAX_BATCH_BYTES,
      maxPending: MAX_PENDING_PUBLISHES,
      failFastMs: FAIL_FAST_MS,
    });
  }

  /**
   * Resolves once the consumer has joined its group with its start offsets pinned, so any publish
   * made after `start` resolves is delivered here. The client's own `latest` mode reads the end
   * offsets only after `consume` has returned the stream (a record produced in between would be
   * skipped), so the end offsets are read first and handed to the stream in MANUAL mode.
   */
  async start(handler: BusHandler): Promise<void> {
    if (this.started) throw new Error('PlatformaticBus.start called twice');
    this.started = true;
    this.handler = handler;
    const clients = this.createClients();
    this.clients = clients;
    try {
      await this.withTimeout(this.connect(clients), JOIN_TIMEOUT_MS, 'bus start');
      this.log.info({ partitions: this.options.partitions, groupId: this.groupId }, 'bus started');
    } catch (error) {
      // Not stopped: the caller may start again (main.ts retries while the broker is away).
      this.started = false;
      this.clients = undefined;
      await this.closeClients(clients);
      throw error;
    }
  }

  publish(message: StoredMessage): Promise<void> {
    // After stop the queue itself refuses, with the clearer reason.
    if (this.clients === undefined && this.stopping === undefined) {
      return Promise.reject(new BusUnavailableError('bus not started'));
    }
    return this.queue.enqueue(encodeRecord(message));
  }

  isReady(): boolean {
    return (
      this.clients !== undefined && this.consuming && !this.queue.isFailing() && this.stopping === undefined
    );
  }

  stop(): Promise<void> {
    this.stopping ??= this.shutdown();
    return this.stopping;
  }

  private async shutdown(): Promise<void> {
    this.queue.close(new BusUnavailableError('bus stopped'));
    await this.queue.flush(STOP_FLUSH_MS);
    this.consuming = false;
    await this.resuming;
    const clients = this.clients;
    if (clients !== undefined) await this.closeClients(clients);
  }

  private createClients(): Clients {
    const { brokers, clientId } = this.options;
    // A dead broker must fail a send within seconds: retries bounded (the idempotent producer
    // would otherwise retry forever), connections given up after 3 s.
    const base = { bootstrapBrokers: brokers, connectTimeout: 3_000, retries: 3, retryDelay: 250 };
    const clients: Clients = {
      admin: new Admin({ ...base, clientId: `${clientId}-admin` }),
      producer: new Producer({
        ...base,
        clientId,
        idempotent: true, // forces acks=all and one request in flight per connection: order kept
        serializers: stringSerializers,
        partitioner: compatibilityPartitioner, // Java's murmur2, as kafkajs' DefaultPartitioner
      }),
      consumer: new Consumer({
        ...base,
        clientId,
        groupId: this.groupId,
        sessionTimeout: 10_000,
        heartbeatInterval: 1_000,
        autocommit: false,
        minBytes: 1,
        maxWaitTime: this.maxWaitTime,
      }),
    };
    for (const [name, client] of Object.entries(clients) as Array<[string, Admin | Producer | Consumer]>) {
      // An 'error' event without a listener would throw out of the client and end the process.
      client.on('error', (error: unknown) =>
        this.log.warn({ err: toError(error), client: name }, 'bus client error'),
      );
    }
    clients.consumer.on('consumer:heartbeat:error', ({ error }) =>
      this.log.warn({ err: toError(error) }, 'bus consumer heartbeat failed'),
    );
    return clients;
  }

  private async connect(clients: Clients): Promise<void> {
    await this.ensureTopic(clients.admin);
    const offsets = await this.endOffsets(clients);
    await this.openStream(clients, offsets);
  }

  private async closeClients(clients: Clients): Promise<void> {
    const stream = this.stream;
    this.stream = undefined;
    // The stream first: closing the consumer while its stream closes fails with "Cannot leave
    // group while consuming messages" and leaves the consumer's sockets open.
    const streamClosed = await Promise.allSettled([stream?.close()]);
    // Each close is attempted even if another fails: a half-stopped bus leaks sockets.
    const results = await Promise.allSettled([
      clients.consumer.close(true), // leaves the group at once instead of waiting for the session timeout
      clients.producer.close(),
      clients.admin.close(),
    ]);
    results.push(...streamClosed);
    for (const result of results) {
      if (result.status === 'rejected') this.log.warn({ err: toError(result.reason) }, 'bus close failed');
    }
    this.consuming = false;
  }

  private async send(records: OutboundRecord[]): Promise<void> {
    const clients = this.clients;
    if (clients === undefined) throw new BusUnavailableError('bus not started');
    const { topic } = this.options;
    await clients.producer.send({ messages: records.map(({ key, value }) => ({ topic, key, value })) });
  }

  private async ensureTopic(admin: Admin): Promise<void> {
    const { topic, partitions, replicationFactor } = this.options;
    try {
      await admin.createTopics({ topics: [topic], partitions, replicas: replicationFactor });
      this.log.info({ partitions, replicationFactor }, 'bus topic created');
    } catch (error) {
      // Two gateways racing to create it: the loser finds it there, which is what it wanted.
      if (!hasErrorId(error, 'TOPIC_ALREADY_EXISTS')) throw error;
    }
  }

  /**
   * The end offset of every partition, once every partition has a leader (a topic another
   * gateway has just created may still lack them); retriable errors are retried within a bound.
   */
  private async endOffsets(clients: Clients): Promise<PartitionOffsets> {
    const { topic } = this.options;
    for (let attempt = 1; ; attempt++) {
      try {
        const metadata = await clients.consumer.metadata({ topics: [topic], forceUpdate: true });
        const partitions = metadata.topics.get(topic)?.partitions ?? [];
        if (partitions.length === 0 || partitions.some((p) => p.leader < 0)) {
          throw Object.assign(new Error(`bus topic ${topic} has no leaders yet`), { retriable: true });
        }
        const listed = await clients.consumer.listOffsets({ topics: [topic] });
        const offsets: PartitionOffsets = new Map();
        (listed.get(topic) ?? []).forEach((offset, partition) => offsets.set(partition, offset));
        return offsets;
      } catch (error) {
        const retriable = (error as { retriable?: boolean }).retriable === true || isRetriable(error);
        if (!retriable || attempt >= LEADER_ATTEMPTS) throw error;
        await delay(LEADER_RETRY_MS);
      }
    }
  }

  /** Joins the group (when not a member yet) and reads from exactly `offsets`. */
  private async openStream(clients: Clients, offsets: PartitionOffsets): Promise<void> {
    const { topic } = this.options;
    const stream = await clients.consumer.consume({
      topics: [topic],
      mode: MessagesStreamModes.MANUAL,
      offsets: [...offsets].map(([partition, offset]) => ({ topic, partition, offset })),
      autocommit: false,
      maxWaitTime: this.maxWaitTime,
      minBytes: 1,
    });
    if (this.stopping !== undefined || this.clients !== clients) {
      await stream.close();
      return;
    }
    this.stream = stream;
    this.consuming = true;
    stream.on('data', (record: ConsumedRecord) => this.onRecord(record));
    stream.on('error', (error: unknown) => this.onStreamError(clients, stream, error));
  }

  private onRecord(record: ConsumedRecord): void {
    const decoded = decodeRecord(record.value ?? null);
    if (decoded.ok) {
      this.pending.push(decoded.message);
    } else {
      this.log.warn(
        { partition: record.partition, offset: record.offset.toString(), reason: decoded.reason },
        'malformed bus record skipped',
      );
    }
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      // The stream pushes a whole fetch response in one synchronous loop: one handler call each.
      queueMicrotask(() => this.flushPending());
    }
  }

  private flushPending(): void {
    this.flushScheduled = false;
    const messages = this.pending;
    if (messages.length === 0 || this.handler === undefined) return;
    this.pending = [];
    try {
      this.handler(messages);
    } catch (error) {
      // Not retried: redelivering the batch would repeat what was written; the mailbox has it.
      this.log.error({ err: toError(error), count: messages.length }, 'bus handler failed');
    }
  }

  /** The stream is dead; the consumer is not. Resume from where the stream stopped. */
  private onStreamError(clients: Clients, stream: Stream, error: unknown): void {
    if (this.stream !== stream) return;
    this.stream = undefined;
    this.consuming = false;
    if (this.stopping !== undefined) return;
    const from: PartitionOffsets = new Map();
    for (const [key, offset] of stream.offsetsToFetch) {
      const separator = key.lastIndexOf(':');
      if (key.slice(0, separator) === this.options.topic) from.set(Number(key.slice(separator + 1)), offset);
    }
    this.log.warn({ err: toError(error) }, 'bus consumer stream failed; resuming');
    this.resuming = this.resume(clients, from);
  }

  private async resume(clients: Clients, from: PartitionOffsets): Promise<void> {
    for (let attempt = 0; this.stopping === undefined && this.clients === clients; attempt++) {
      await delay(RESUME_BACKOFF_MS[Math.min(attempt, RESUME_BACKOFF_MS.length - 1)]);
      if (this.stopping !== undefined) break;
      try {
        const end = await this.endOffsets(clients);
        // Where the dead stream stopped, unless the log no longer reaches there (topic recreated).
        const offsets: PartitionOffsets = new Map();
        for (const [partition, offset] of end) {
          const previous = from.get(partition);
          offsets.set(partition, previous !== undefined && previous <= offset ? previous : offset);
        }
        await this.openStream(clients, offsets);
        this.log.info({ attempt: attempt + 1 }, 'bus consumer resumed');
        break;
      } catch (error) {
        this.log.warn({ err: toError(error), attempt: attempt + 1 }, 'bus consumer resume failed; retrying');
      }
    }
    this.resuming = undefined;
  }

  private async withTimeout<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
    });
    // `work` keeps running after a timeout; its late failure must not be unhandled.
    work.catch(() => undefined);
    try {
      return await Promise.race([work, expired]);
    } finally {
      clearTimeout(timer);
    }
  }
}
