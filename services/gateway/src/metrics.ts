/** Prometheus metrics of one gateway (prom-client), with label children bound once for hot paths. */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export class GatewayMetrics {
  readonly registry = new Registry();

  readonly connections = new Gauge({
    name: 'postbox_connections',
    help: 'Open WebSocket sessions',
    registers: [this.registry],
  });
  readonly upgradesRefused = new Counter({
    name: 'postbox_upgrades_refused_total',
    help: 'Upgrades refused over HTTP, by status',
    labelNames: ['status'],
    registers: [this.registry],
  });
  readonly upgradesAbandoned = new Counter({
    name: 'postbox_upgrades_abandoned_total',
    help: 'Upgrades accepted whose connection ended before the session opened, by when (upgrade, open)',
    labelNames: ['when'],
    registers: [this.registry],
  });
  readonly framesIn = new Counter({
    name: 'postbox_frames_in_total',
    help: 'Client frames received',
    labelNames: ['type'],
    registers: [this.registry],
  });
  readonly framesOut = new Counter({
    name: 'postbox_frames_out_total',
    help: 'Frames written to clients',
    registers: [this.registry],
  });
  readonly accepted = new Counter({
    name: 'postbox_messages_accepted_total',
    help: 'Sends accepted, by status (sent, queued, duplicate)',
    labelNames: ['status'],
    registers: [this.registry],
  });
  readonly delivered = new Counter({
    name: 'postbox_messages_delivered_total',
    help: 'message frames written, by path (live, mailbox)',
    labelNames: ['path'],
    registers: [this.registry],
  });
  readonly acks = new Counter({
    name: 'postbox_acked_ids_total',
    help: 'Message ids acknowledged',
    registers: [this.registry],
  });
  readonly errors = new Counter({
    name: 'postbox_errors_total',
    help: 'error frames sent, by code',
    labelNames: ['code'],
    registers: [this.registry],
  });
  readonly sendsRefused = new Counter({
    name: 'postbox_sends_refused_total',
    help: 'Sends refused with rate_limited before any work, by reason (connection_rate, in_flight, behind)',
    labelNames: ['reason'],
    registers: [this.registry],
  });
  readonly closes = new Counter({
    name: 'postbox_closes_total',
    help: 'Sessions closed, by close code',
    labelNames: ['code'],
    registers: [this.registry],
  });
  readonly deliveryLatency = new Histogram({
    name: 'postbox_delivery_latency_seconds',
    help: 'Accept to live message frame write, seconds',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });
  readonly publishLatency = new Histogram({
    name: 'postbox_kafka_publish_seconds',
    help: 'Kafka publish, batched, until acknowledged by all in-sync replicas',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers: [this.registry],
  });
  readonly publishFailures = new Counter({
    name: 'postbox_kafka_publish_failures_total',
    help: 'Publishes that failed (sent as queued)',
    registers: [this.registry],
  });
  readonly busLag = new Histogram({
    name: 'postbox_kafka_consumer_lag_seconds',
    help: 'Accept to consumption by this gateway, seconds',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5],
    registers: [this.registry],
  });
  readonly storeLatency = new Histogram({
    name: 'postbox_redis_command_seconds',
    help: 'Redis store calls, by operation',
    labelNames: ['op'],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5],
    registers: [this.registry],
  });
  readonly gapRepairs = new Counter({
    name: 'postbox_live_gap_repairs_total',
    help: 'Mailbox reads that filled a gap in a live session (a message accepted but not published)',
    registers: [this.registry],
  });
  readonly routedLocal = new Counter({
    name: 'postbox_live_local_total',
    help: 'Live messages written to sessions on the accepting gateway itself, without the bus hop',
    registers: [this.registry],
  });
  readonly busRecords = new Counter({
    name: 'postbox_bus_records_total',
    help: 'Bus records this gateway decoded (with routing, about one per live message written here)',
    registers: [this.registry],
  });
  readonly caughtUp = new Counter({
    name: 'postbox_live_catch_up_messages_total',
    help: 'Messages written to live sessions from their mailbox when the bus came back (stored while it was down)',
    registers: [this.registry],
  });
  readonly mailboxSnapshot = new Histogram({
    name: 'postbox_mailbox_depth',
    help: 'Messages waiting in a mailbox when its user connects (counted up to one page, MAILBOX_PAGE_SIZE)',
    buckets: [0, 1, 10, 100, 1000, 10000],
    registers: [this.registry],
  });

  /** Label children bound once: `labels()` looks them up on every call, and these run per frame. */
  readonly framesInByType = {
    send: this.framesIn.labels('send'),
    ack: this.framesIn.labels('ack'),
    presence: this.framesIn.labels('presence'),
    ping: this.framesIn.labels('ping'),
  } as const;
  readonly acceptedSent = this.accepted.labels('sent');
  readonly acceptedQueued = this.accepted.labels('queued');
  readonly acceptedDuplicate = this.accepted.labels('duplicate');
  readonly deliveredLive = this.delivered.labels('live');
  readonly deliveredMailbox = this.delivered.labels('mailbox');
  readonly acceptLatency = this.storeLatency.labels('accept');
  readonly refusedConnectionRate = this.sendsRefused.labels('connection_rate');
  readonly refusedInFlight = this.sendsRefused.labels('in_flight');
  readonly refusedBehind = this.sendsRefused.labels('behind');
  readonly errorsRateLimited = this.errors.labels('rate_limited');

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'postbox_gateway_' });
  }
}
