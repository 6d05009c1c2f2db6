/**
 * The MessageBus on @platformatic/kafka, for the comparison with kafkajs (docs/architecture.md,
 * "Kafka client: kafkajs or @platformatic/kafka"). Same semantics as KafkaBus (bus/kafka.ts):
 * records as record.ts writes them, produced to the partitions of their routes by an idempotent
 * producer with acks=all behind the same PublishQueue; each gateway reads its route's partition
 * from the end offset pinned at start, and commits nothing.
 *
 * How it reads differs: the client's consumer streams only read what a consumer group assigns,
 * and a group of one member always gets every partition (its own assigner is not even asked). So
 * the bus uses no group at all: it long-polls its one partition with the client's low-level
 * `Consumer.fetch` (platformatic-reader.ts; maxWaitTime 5 s, minBytes 1: the broker answers as
 * soon as a record arrives, an idle gateway asks once per 5 s). No join, no heartbeats, no
 * coordinator, nothing to rebalance.
 *
 * The package is ESM only: Node >= 20.19 loads it through require(esm) (ts-node, the gateway,
 * tools); jest 29's module registry cannot, see tests/bus/platformatic-bus.test.ts.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { Admin, Consumer, Producer, stringSerializers } from '@platformatic/kafka';
import type { Logger } from '@postbox/logger';
import type { StoredMessage } from '../store/store';
import type { BusHandler, MessageBus, Routes } from './bus';
import { findInError, PartitionReader, toError } from './platformatic-reader';
import {
  LEADER_ATTEMPTS,
  LEADER_RETRY_MS,
  publishQueue,
  STOP_FLUSH_MS,
  type KafkaBusOptions,
} from './kafka-options';
import { BusUnavailableError, type PublishQueue } from './publish-queue';
import { encodeRecords, type OutboundRecord } from './record';

export interface PlatformaticBusOptions extends KafkaBusOptions {
  /** How long the broker may hold an empty fetch; it answers at once when a record arrives. */
  maxWaitTimeMs?: number;
}

interface Clients {
  admin: Admin;
  producer: Producer<string, string, string, string>;
  /** Metadata, offsets and fetches only: it never joins a group. */
  reader: Consumer;
}

const START_TIMEOUT_MS = 30_000;
const DEFAULT_MAX_WAIT_MS = 5_000;
export class PlatformaticBus implements MessageBus {
  private readonly queue: PublishQueue;
  private readonly log: Logger;
  private readonly maxWaitTime: number;
  private clients: Clients | undefined;
  private handler: BusHandler | undefined;
  private started = false;
  private stopping: Promise<void> | undefined;
  private consuming = false;
  /** Partitions of the topic as last read at start: `publish(…, 'all')` goes to each. */
  private partitionCount = 0;
  private reader: PartitionReader | undefined;

  constructor(private readonly options: PlatformaticBusOptions) {
    this.log = options.logger.child({ component: 'bus', topic: options.topic, client: 'platformatic' });
    this.maxWaitTime = options.maxWaitTimeMs ?? DEFAULT_MAX_WAIT_MS;
    this.queue = publishQueue((records) => this.send(records), options);
  }

  /**
   * Resolves once the end offset of the route's partition is read: reading starts there, so any
   * publish made after `start` resolves is delivered here. The client's clients cannot be reopened
   * once closed, so each attempt builds new ones (main.ts retries while the broker is away).
   */
  async start(handler: BusHandler, route: number): Promise<void> {
    if (this.started) throw new Error('PlatformaticBus.start called twice');
    if (!Number.isSafeInteger(route) || route < 0 || route >= this.options.partitions) {
      throw new Error(
        `PlatformaticBus: route ${route} is not a partition in [0, ${this.options.partitions})`,
      );
    }
    this.started = true;
    this.handler = handler;
    const clients = this.createClients();
    this.clients = clients;
    try {
      const offset = await this.withTimeout(this.prepare(clients, route), START_TIMEOUT_MS, 'bus start');
      this.consuming = true;
      this.reader = this.startReader(clients, route, offset);
      this.log.info({ route, partitions: this.partitionCount }, 'bus started');
    } catch (error) {
      this.started = false;
      this.clients = undefined;
      await this.closeClients(clients);
      throw error;
    }
  }

  publish(message: StoredMessage, routes: Routes): Promise<void> {
    // After stop the queue itself refuses, with the clearer reason.
    if (this.clients === undefined && this.stopping === undefined) {
      return Promise.reject(new BusUnavailableError('bus not started'));
    }
    const partitions = routes === 'all' ? Array.from({ length: this.partitionCount }, (_, p) => p) : routes;
    const records = encodeRecords(message, partitions);
    if (records.length === 1 && records[0] !== undefined) return this.queue.enqueue(records[0]);
    return Promise.all(records.map((record) => this.queue.enqueue(record))).then(() => undefined);
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
    const clients = this.clients;
    const stopped = this.reader?.stop();
    if (clients !== undefined) await this.closeClients(clients); // ends the pending fetch too
    await stopped;
  }

  private createClients(): Clients {
    const { brokers, clientId, gatewayId } = this.options;
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
      }),
      // The constructor wants a group id; nothing ever joins it.
      reader: new Consumer({
        ...base,
        clientId,
        groupId: `postbox-gw-${gatewayId}-unused`,
        autocommit: false,
      }),
    };
    for (const [name, client] of Object.entries(clients) as Array<[string, Admin | Producer | Consumer]>) {
      // An 'error' event without a listener would throw out of the client and end the process.
      client.on('error', (error: unknown) =>
        this.log.warn({ err: toError(error), client: name }, 'bus client error'),
      );
    }
    return clients;
  }

  private async closeClients(clients: Clients): Promise<void> {
    // Each close is attempted even if another fails: a half-stopped bus leaks sockets.
    const results = await Promise.allSettled([
      clients.reader.close(),
      clients.producer.close(),
      clients.admin.close(),
    ]);
    for (const result of results) {
      if (result.status === 'rejected') this.log.warn({ err: toError(result.reason) }, 'bus close failed');
    }
    this.consuming = false;
  }

  private async send(records: OutboundRecord[]): Promise<void> {
    const clients = this.clients;
    if (clients === undefined) throw new BusUnavailableError('bus not started');
    const { topic } = this.options;
    // An explicit partition is used as given (modulo the partition count: it never fails).
    await clients.producer.send({
      messages: records.map(({ key, value, partition }) => ({ topic, key, value, partition })),
    });
  }

  /** Creates or grows the topic, then returns the end offset of the route's partition. */
  private async prepare(clients: Clients, route: number): Promise<bigint> {
    const { topic, partitions, replicationFactor } = this.options;
    try {
      await clients.admin.createTopics({ topics: [topic], partitions, replicas: replicationFactor });
      this.log.info({ partitions, replicationFactor }, 'bus topic created');
    } catch (error) {
      // Two gateways racing to create it: the loser finds it there, which is what it wanted.
      if (!findInError(error, 'apiId', 'TOPIC_ALREADY_EXISTS')) throw error;
    }
    const existing = (await this.leaders(clients)).length;
    if (existing < partitions) {
      try {
        await clients.admin.createPartitions({ topics: [{ name: topic, count: partitions }] });
        this.log.info({ from: existing, to: partitions }, 'bus topic grown to one partition per route');
      } catch (error) {
        this.log.info({ err: toError(error) }, 'bus topic grow refused (another gateway grew it first?)');
      }
    }
    this.partitionCount = Math.max(existing, (await this.leaders(clients)).length);
    return this.endOffset(clients, route);
  }

  /** Leaders of the topic's partitions, once each has one (a new topic may still lack them). */
  private async leaders(clients: Clients): Promise<number[]> {
    const { topic } = this.options;
    for (let attempt = 1; attempt <= LEADER_ATTEMPTS; attempt++) {
      const metadata = await clients.reader.metadata({ topics: [topic], forceUpdate: true });
      const partitions = metadata.topics.get(topic)?.partitions ?? [];
      if (partitions.length > 0 && partitions.every((p) => p.leader >= 0))
        return partitions.map((p) => p.leader);
      await delay(LEADER_RETRY_MS);
    }
    throw new Error(`bus topic ${topic} has no leaders after ${LEADER_ATTEMPTS} checks`);
  }

  private async endOffset(clients: Clients, route: number): Promise<bigint> {
    const { topic } = this.options;
    const offsets = await clients.reader.listOffsets({ topics: [topic], partitions: { [topic]: [route] } });
    const offset = offsets.get(topic)?.[route];
    if (offset === undefined) throw new Error(`no end offset for partition ${route} of ${topic}`);
    return offset;
  }

  private startReader(clients: Clients, route: number, offset: bigint): PartitionReader {
    const reader = new PartitionReader({
      consumer: clients.reader,
      topic: this.options.topic,
      partition: route,
      maxWaitTime: this.maxWaitTime,
      log: this.log,
      endOffset: () => this.endOffset(clients, route),
      onReading: (reading) => (this.consuming = reading),
      onMessages: (messages) => this.deliver(messages),
    });
    reader.start(offset);
    return reader;
  }

  private deliver(messages: StoredMessage[]): void {
    if (this.handler === undefined || this.stopping !== undefined) return;
    try {
      this.handler(messages);
    } catch (error) {
      // Not retried: redelivering the batch would repeat what was written; the mailbox has it.
      this.log.error({ err: toError(error), count: messages.length }, 'bus handler failed');
    }
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
