/**
 * In-process MessageBus for embedded mode and unit tests: nothing leaves the process and nothing
 * is durable. Several MemoryBus instances may share one MemoryTopic to stand in for several
 * gateways, each receiving what is published to its route, as with Kafka.
 */
import type { StoredMessage } from '../store/store';
import type { BusHandler, MessageBus, Routes } from './bus';
import { BusUnavailableError } from './publish-queue';

/** The shared "topic": hands each published message to the started buses of its routes. */
export class MemoryTopic {
  private readonly subscribers = new Set<MemorySubscription>();

  subscribe(handler: BusHandler, route: number): MemorySubscription {
    const subscription = new MemorySubscription(handler, route, () => {
      this.subscribers.delete(subscription);
    });
    this.subscribers.add(subscription);
    return subscription;
  }

  append(message: StoredMessage, routes: Routes): void {
    for (const subscriber of this.subscribers) {
      if (routes === 'all' || routes.includes(subscriber.route)) subscriber.push(message);
    }
  }
}

/**
 * One bus's view of the topic. Messages are delivered asynchronously, like a real broker, in
 * batches gathered during the current tick, in publish order.
 */
export class MemorySubscription {
  private pending: StoredMessage[] = [];
  private scheduled = false;
  private closed = false;

  constructor(
    private readonly handler: BusHandler,
    readonly route: number,
    private readonly unsubscribe: () => void,
  ) {}

  /** Stops delivery at once, including messages already pushed but not yet delivered. */
  close(): void {
    this.closed = true;
    this.pending = [];
    this.unsubscribe();
  }

  push(message: StoredMessage): void {
    this.pending.push(message);
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.deliver());
  }

  private deliver(): void {
    const batch = this.pending;
    this.pending = [];
    this.scheduled = false;
    if (!this.closed && batch.length > 0) this.handler(batch);
  }
}

export class MemoryBus implements MessageBus {
  private subscription: MemorySubscription | undefined;
  private stopped = false;

  constructor(private readonly topic: MemoryTopic = new MemoryTopic()) {}

  async start(handler: BusHandler, route: number): Promise<void> {
    if (this.subscription !== undefined || this.stopped) throw new Error('MemoryBus.start called twice');
    this.subscription = this.topic.subscribe(handler, route);
  }

  publish(message: StoredMessage, routes: Routes): Promise<void> {
    if (this.stopped) return Promise.reject(new BusUnavailableError('bus stopped'));
    if (this.subscription === undefined) return Promise.reject(new BusUnavailableError('bus not started'));
    this.topic.append(message, routes);
    return Promise.resolve();
  }

  isReady(): boolean {
    return this.subscription !== undefined && !this.stopped;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.subscription?.close();
  }
}
