/**
 * The Kafka MessageBus: gateways produce each live record to the partitions of the routes that
 * hold its recipient's sessions, and each gateway consumes only its own route's partition, in a
 * consumer group of its own (`postbox-gw-<gatewayId>-<bootId>`) whose assigner hands its one
 * member exactly that partition (kafkajs has no manual assignment). The group is new on every
 * boot and never commits: nothing old is replayed after a restart (Redis holds what was missed)
 * and nothing is left behind to clean up.
 */
import { randomBytes } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import {
  Kafka,
  KafkaJSError,
  logLevel,
  Partitioners,
  type Admin,
  type Consumer,
  type EachBatchPayload,
  type Producer,
} from 'kafkajs';
import type { Logger } from '@postbox/logger';
import type { StoredMessage } from '../store/store';
import type { BusHandler, MessageBus, Routes } from './bus';
import { pinoLogCreator } from './kafka-log';
import {
  LEADER_ATTEMPTS,
  LEADER_RETRY_MS,
  publishQueue,
  STOP_FLUSH_MS,
  type KafkaBusOptions,
} from './kafka-options';
import { BusUnavailableError, type PublishQueue } from './publish-queue';
import { decodeRecord, encodeRecords, type OutboundRecord } from './record';
import { routeAssigner } from './route-assigner';

const JOIN_TIMEOUT_MS = 30_000;
const IDLE_FETCH_WAIT_MS = 500;
const REVIVE_FIRST_MS = 500;
const REVIVE_MAX_MS = 10_000;

export type { KafkaBusOptions } from './kafka-options';

type TopicOffsets = Map<number, string>;

export class KafkaBus implements MessageBus {
  private readonly admin: Admin;
  private readonly producer: Producer;
  private readonly kafka: Kafka;
  private readonly bootId = randomBytes(6).toString('hex');
  /** Replaced by a fresh one when kafkajs gives up on it (a crash it will not restart). */
  private consumer: Consumer;
  private consumerGeneration = 0;
  private reviving = false;
  private readonly queue: PublishQueue;
  private readonly log: Logger;
  private handler: BusHandler | undefined;
  private started = false;
  private stopping: Promise<void> | undefined;
  private producerConnected = false;
  private consuming = false;
  /** Start offsets to pin at the first group join; see `start`. */
  private pinOnJoin: { offsets: TopicOffsets; joined: () => void } | undefined;
  private onFatalCrash: ((error: Error) => void) | undefined;
  /** The partition this gateway consumes, set by `start` before the group join. */
  private route = -1;
  /** Partitions of the topic as last read at start: `publish(…, 'all')` goes to each. */
  private partitionCount = 0;

  constructor(private readonly options: KafkaBusOptions) {
    this.log = options.logger.child({ component: 'bus', topic: options.topic });
    const kafka = (this.kafka = new Kafka({
      clientId: options.clientId,
      brokers: options.brokers,
      connectionTimeout: 3_000,
      // A dead broker must fail a send within seconds, not after kafkajs' default ~30 s of retries.
      retry: { retries: 3, initialRetryTime: 100, maxRetryTime: 1_000 },
      logLevel: logLevel.WARN,
      logCreator: pinoLogCreator(this.log),
    }));
    this.admin = kafka.admin();
    this.producer = kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1, // kafkajs requires it for idempotence; it is also what keeps order
      createPartitioner: Partitioners.DefaultPartitioner, // Java-compatible murmur2 on the key
    });
    this.consumer = this.makeConsumer();
    this.queue = publishQueue((records) => this.send(records), options);
    this.trackProducer();
  }

  private makeConsumer(): Consumer {
    const generation = this.consumerGeneration++;
    const consumer = this.kafka.consumer({
      groupId: `postbox-gw-${this.options.gatewayId}-${this.bootId}${generation === 0 ? '' : `-${generation}`}`,
      sessionTimeout: 10_000,
      heartbeatInterval: 1_000,
      // A long poll: the broker answers as soon as one byte is there (minBytes), so this bounds
      // only how often an idle gateway asks (at 20 ms it burned ~6 % of a core doing nothing).
      maxWaitTimeInMs: IDLE_FETCH_WAIT_MS,
      minBytes: 1,
      partitionAssigners: [routeAssigner(() => this.route)],
      // Retriable crashes (broker restart) restart the consumer; it rejoins and reads from latest.
      retry: { retries: 3, initialRetryTime: 300, maxRetryTime: 3_000, restartOnFailure: async () => true },
    });
    this.trackConsumer(consumer);
    return consumer;
  }

  /**
   * Resolves once this gateway's consumer has joined its group with its start offsets pinned, so
   * any publish made after `start` resolves is delivered here. kafkajs alone resolves `latest`
   * lazily at the first fetch, after `run` returns: a record produced in between would be
   * skipped. So the topic's end offsets are read before joining and, at the join, every assigned
   * partition is seeked to them (the seek is applied before the first fetch).
   */
  async start(handler: BusHandler, route: number): Promise<void> {
    if (this.started) throw new Error('KafkaBus.start called twice');
    if (!Number.isSafeInteger(route) || route < 0 || route >= this.options.partitions) {
      throw new Error(`KafkaBus: route ${route} is not a partition in [0, ${this.options.partitions})`);
    }
    this.started = true;
    this.handler = handler;
    this.route = route;
    try {
      await this.admin.connect();
      await this.ensureTopic();
      await this.producer.connect();
      await this.startConsuming();
      this.log.info({ route }, 'bus started');
    } catch (error) {
      // Not stopped: the caller may start again (main.ts retries while the broker is away).
      this.onFatalCrash?.(error instanceof Error ? error : new Error(String(error)));
      this.started = false;
      await this.disconnectAll();
      throw error;
    }
  }

  /** Joins (a fresh group) with the route's partition pinned to the topic's current end. */
  private async startConsuming(): Promise<void> {
    await this.consumer.connect();
    await this.consumer.subscribe({ topic: this.options.topic, fromBeginning: false });
    const offsets = await this.endOffsets();
    const joined = this.waitForFirstJoin(offsets);
    // Awaited below; if `run` throws first, the failure is the one reported, not this one.
    joined.catch(() => undefined);
    await this.consumer.run({ autoCommit: false, eachBatch: (payload) => this.onBatch(payload) });
    await joined;
  }

  /**
   * kafkajs gave up on the consumer (e.g. "Failed to find group coordinator" while the broker
   * restarts is not retriable): without this the gateway stayed unready until restarted. A fresh
   * consumer starts from the topic's end; what was published meanwhile is in the mailboxes, and
   * main.ts's catch-up reads it for connected sessions once the bus is ready again.
   */
  private async revive(): Promise<void> {
    if (this.reviving) return;
    this.reviving = true;
    try {
      for (
        let waitMs = REVIVE_FIRST_MS;
        this.stopping === undefined;
        waitMs = Math.min(waitMs * 2, REVIVE_MAX_MS)
      ) {
        await delay(waitMs);
        if (this.stopping !== undefined) return;
        await this.consumer.disconnect().catch(() => undefined);
        this.consumer = this.makeConsumer();
        try {
          await this.startConsuming();
          this.log.info({ route: this.route }, 'bus consumer revived');
          return;
        } catch (error) {
          this.log.warn({ err: error, retryInMs: waitMs * 2 }, 'bus consumer could not be revived yet');
        }
      }
    } finally {
      this.reviving = false;
    }
  }

  publish(message: StoredMessage, routes: Routes): Promise<void> {
    // After stop the queue itself refuses, with the clearer reason.
    if (!this.producerConnected && this.stopping === undefined) {
      const reason = this.started ? 'bus producer is not connected' : 'bus not started';
      return Promise.reject(new BusUnavailableError(reason));
    }
    const partitions = routes === 'all' ? Array.from({ length: this.partitionCount }, (_, p) => p) : routes;
    const records = encodeRecords(message, partitions);
    if (records.length === 1 && records[0] !== undefined) return this.queue.enqueue(records[0]);
    return Promise.all(records.map((record) => this.queue.enqueue(record))).then(() => undefined);
  }

  isReady(): boolean {
    return this.producerConnected && this.consuming && !this.queue.isFailing() && this.stopping === undefined;
  }

  stop(): Promise<void> {
    this.stopping ??= this.shutdown();
    return this.stopping;
  }

  private async shutdown(): Promise<void> {
    this.queue.close(new BusUnavailableError('bus stopped'));
    await this.queue.flush(STOP_FLUSH_MS);
    await this.disconnectAll();
  }

  private async disconnectAll(): Promise<void> {
    // Each disconnect is attempted even if another fails: a half-stopped bus leaks sockets.
    const results = await Promise.allSettled([
      this.producer.disconnect(),
      this.consumer.disconnect(), // leaves the group at once instead of waiting for the session timeout
      this.admin.disconnect(),
    ]);
    for (const result of results) {
      if (result.status === 'rejected') this.log.warn({ err: result.reason }, 'bus disconnect failed');
    }
    this.consuming = false;
    this.producerConnected = false;
  }

  private async send(records: OutboundRecord[]): Promise<void> {
    await this.producer.send({ topic: this.options.topic, acks: -1, messages: records });
  }

  private async ensureTopic(): Promise<void> {
    const { topic, partitions, replicationFactor } = this.options;
    // Returns false when the topic exists; two gateways racing to create it both succeed.
    const created = await this.admin.createTopics({
      topics: [{ topic, numPartitions: partitions, replicationFactor }],
      waitForLeaders: true,
    });
    if (created) this.log.info({ partitions, replicationFactor }, 'bus topic created');
    const { topics } = await this.admin.fetchTopicMetadata({ topics: [topic] });
    const existing = topics[0]?.partitions.length ?? 0;
    if (existing < partitions) {
      // An older topic with fewer partitions than routes: grow it (a racing gateway may do the same).
      try {
        await this.admin.createPartitions({ topicPartitions: [{ topic, count: partitions }] });
        this.log.info({ from: existing, to: partitions }, 'bus topic grown to one partition per route');
      } catch (error) {
        this.log.info({ err: error }, 'bus topic grow refused (another gateway grew it first?)');
      }
    }
    this.partitionCount = Math.max(existing, partitions);
  }

  /**
   * A topic another gateway has just created may still lack leaders (waitForLeaders only holds
   * its creator back), and kafkajs' fetchTopicOffsets gives up at once on NOT_LEADER: so wait for
   * leaders in the metadata, then retry the offsets read on retriable errors, within a bound.
   */
  private async endOffsets(): Promise<TopicOffsets> {
    const { topic } = this.options;
    for (let attempt = 1; ; attempt++) {
      try {
        await this.waitForLeaders();
        const offsets = await this.admin.fetchTopicOffsets(topic);
        return new Map(offsets.map((o) => [o.partition, o.high]));
      } catch (error) {
        const retriable = error instanceof KafkaJSError && error.retriable;
        if (!retriable || attempt >= LEADER_ATTEMPTS) throw error;
        this.log.info({ attempt, err: error }, 'bus topic not ready yet; retrying');
        await delay(LEADER_RETRY_MS);
      }
    }
  }

  private async waitForLeaders(): Promise<void> {
    for (let attempt = 1; attempt <= LEADER_ATTEMPTS; attempt++) {
      const { topics } = await this.admin.fetchTopicMetadata({ topics: [this.options.topic] });
      const partitions = topics[0]?.partitions ?? [];
      if (partitions.length > 0 && partitions.every((p) => p.leader >= 0)) return;
      await delay(LEADER_RETRY_MS);
    }
    throw new Error(`bus topic ${this.options.topic} has no leaders after ${LEADER_ATTEMPTS} checks`);
  }

  private waitForFirstJoin(offsets: TopicOffsets): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => fail(new Error(`consumer did not join within ${JOIN_TIMEOUT_MS} ms`)),
        JOIN_TIMEOUT_MS,
      );
      const done = (): void => {
        clearTimeout(timer);
        // Only this wait's own hooks: a later attempt may have installed its own meanwhile.
        if (this.pinOnJoin === pin) this.pinOnJoin = undefined;
        if (this.onFatalCrash === fail) this.onFatalCrash = undefined;
      };
      const fail = (error: Error): void => {
        done();
        reject(error);
      };
      const pin = { offsets, joined: () => (done(), resolve()) };
      this.pinOnJoin = pin;
      this.onFatalCrash = fail;
    });
  }

  /** Runs synchronously inside kafkajs' join, before the first fetch: seeks land in time. */
  private pinStartOffsets(assignment: Record<string, number[] | undefined>): void {
    const pin = this.pinOnJoin;
    if (pin === undefined) return;
    for (const partition of assignment[this.options.topic] ?? []) {
      const offset = pin.offsets.get(partition);
      // A partition added after we read the offsets starts at kafkajs' own `latest`.
      if (offset !== undefined) this.consumer.seek({ topic: this.options.topic, partition, offset });
    }
    pin.joined();
  }

  private trackProducer(): void {
    const { producer } = this;
    producer.on(producer.events.CONNECT, () => (this.producerConnected = true));
    producer.on(producer.events.DISCONNECT, () => (this.producerConnected = false));
  }

  /** Events of a consumer that was replaced are ignored. */
  private trackConsumer(consumer: Consumer): void {
    const current = (): boolean => consumer === this.consumer;
    consumer.on(consumer.events.GROUP_JOIN, (event) => {
      if (!current()) return;
      this.consuming = true;
      try {
        this.pinStartOffsets(event.payload.memberAssignment);
      } catch (error) {
        // A throw here would surface inside kafkajs' join; report it through start() instead.
        this.onFatalCrash?.(error instanceof Error ? error : new Error(String(error)));
      }
    });
    consumer.on(consumer.events.DISCONNECT, () => {
      if (current()) this.consuming = false;
    });
    consumer.on(consumer.events.STOP, () => {
      if (current()) this.consuming = false;
    });
    consumer.on(consumer.events.CRASH, (event) => {
      if (!current()) return;
      this.consuming = false;
      const { error, restart } = event.payload;
      if (restart) {
        this.log.warn({ err: error }, 'bus consumer crashed; kafkajs restarts it');
      } else if (this.onFatalCrash !== undefined) {
        // During start (or a revival): that attempt fails and its caller retries.
        this.onFatalCrash(error);
      } else if (this.started && this.stopping === undefined) {
        this.log.warn({ err: error }, 'bus consumer crashed and kafkajs gave up on it: starting a fresh one');
        void this.revive();
      }
    });
  }

  private async onBatch({ batch, heartbeat }: EachBatchPayload): Promise<void> {
    const messages: StoredMessage[] = [];
    for (const record of batch.messages) {
      const decoded = decodeRecord(record.value);
      if (decoded.ok) {
        messages.push(decoded.message);
      } else {
        this.log.warn(
          { partition: batch.partition, offset: record.offset, reason: decoded.reason },
          'malformed bus record skipped',
        );
      }
    }
    if (messages.length > 0 && this.handler !== undefined) {
      try {
        this.handler(messages);
      } catch (error) {
        // Not retried: redelivering the batch would repeat what was written; the mailbox has it.
        this.log.error({ err: error, count: messages.length }, 'bus handler failed');
      }
    }
    await heartbeat();
  }
}
