/**
 * The live fast path between gateways. Each gateway consumes one route (a partition of the
 * topic, claimed in the store: route.ts) and a message for an online recipient is published only
 * to the routes of the gateways holding the recipient's sessions, so a gateway reads only what it
 * may write. Redis is the truth; the bus may lose or repeat: a message missed here still waits in
 * the recipient's mailbox. Implementations: Kafka (bus/kafka.ts) and memory (bus/memory.ts), one
 * contract suite.
 */
import type { StoredMessage } from '../store/store';

export type BusHandler = (messages: readonly StoredMessage[]) => void;

/** Where a record goes: these routes, or every route (a repeat that no longer knows where its recipient is). */
export type Routes = readonly number[] | 'all';

export interface MessageBus {
  /**
   * Connects, creates the topic when missing (growing it to its configured routes), and starts
   * delivering what is published to `route` to `handler`, from now on.
   */
  start(handler: BusHandler, route: number): Promise<void>;
  /**
   * Publishes to each of `routes`, batched with other publishes for a few milliseconds. Resolves
   * once the broker has acknowledged every copy (all in-sync replicas); rejects when one could not
   * be published. Publishes made in order are delivered in order on each route.
   */
  publish(message: StoredMessage, routes: Routes): Promise<void>;
  /** True while connected and consuming; drives /readyz. */
  isReady(): boolean;
  /** Flushes pending publishes, leaves the consumer group, disconnects. */
  stop(): Promise<void>;
}
