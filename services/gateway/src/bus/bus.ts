/**
 * The live fast path between gateways. Every gateway publishes messages for online recipients
 * and receives every published message (a consumer group of its own, never shared), so the one
 * holding the recipient's sockets can write them. Redis is the truth; the bus may lose or
 * repeat: a message missed here still waits in the recipient's mailbox.
 * Implementations: Kafka (bus/kafka.ts) and memory (bus/memory.ts), one contract suite.
 */
import type { StoredMessage } from '../store/store';

export type BusHandler = (messages: readonly StoredMessage[]) => void;

export interface MessageBus {
  /** Connects, creates the topic when missing, and starts delivering to `handler` from now on. */
  start(handler: BusHandler): Promise<void>;
  /**
   * Publishes, batched with other publishes for a few milliseconds. Resolves once the broker has
   * acknowledged it (all in-sync replicas); rejects when it could not be published. Publishes made
   * in order are delivered in order for the same recipient.
   */
  publish(message: StoredMessage): Promise<void>;
  /** True while connected and consuming; drives /readyz. */
  isReady(): boolean;
  /** Flushes pending publishes, leaves the consumer group, disconnects. */
  stop(): Promise<void>;
}
