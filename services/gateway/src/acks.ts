/**
 * Acks gathered per event-loop turn: a client acks every message it receives, often one `ack`
 * frame per message, and each used to be a Redis round trip of its own. Here the ids a user acks
 * during one turn (from all of their connections on this gateway) become one `store.ack` call,
 * in chunks of at most `maxIds`. A failed call is retried after a backoff: an ack lost only means
 * a redelivery on the next connection, but under load that would be a burst of them.
 */
import type { Logger } from '@postbox/logger';
import type { MailboxStore } from './store/store';

export interface AckSettings {
  /** Ids per `store.ack` call (ack.lua's work per call stays bounded). */
  maxIds: number;
  /** Delays of the retries after a failed call, ms; one retry per entry. */
  retryDelaysMs: readonly number[];
}

export const ACK_DEFAULTS: AckSettings = { maxIds: 1000, retryDelaysMs: [50, 250] };

export class AckBatcher {
  private pending = new Map<string, string[]>();
  private readonly inFlight = new Set<Promise<void>>();
  private readonly flushAll = (): void => this.flush();

  constructor(
    private readonly store: Pick<MailboxStore, 'ack'>,
    private readonly logger: Logger,
    private readonly settings: AckSettings = ACK_DEFAULTS,
  ) {}

  /** Queues a user's acked ids for this turn's flush. */
  add(user: string, ids: readonly string[]): void {
    if (ids.length === 0) return;
    const queued = this.pending.get(user);
    if (queued !== undefined) {
      for (const id of ids) queued.push(id);
      return;
    }
    if (this.pending.size === 0) setImmediate(this.flushAll);
    this.pending.set(user, ids.slice());
  }

  /** Sends what was queued: one call per user and chunk of `maxIds`. */
  flush(): void {
    if (this.pending.size === 0) return;
    const batch = this.pending;
    this.pending = new Map();
    const { maxIds } = this.settings;
    for (const [user, ids] of batch) {
      for (let first = 0; first < ids.length; first += maxIds) {
        const chunk = ids.length <= maxIds ? ids : ids.slice(first, first + maxIds);
        const call = this.ackWithRetries(user, chunk);
        this.inFlight.add(call);
        void call.finally(() => this.inFlight.delete(call));
      }
    }
  }

  /** On shutdown, before the store closes: sends what is queued and waits for every call. */
  async drain(): Promise<void> {
    this.flush();
    while (this.inFlight.size > 0) await Promise.all(this.inFlight);
  }

  private async ackWithRetries(user: string, ids: readonly string[]): Promise<void> {
    const delays = this.settings.retryDelaysMs;
    for (let attempt = 0; ; attempt += 1) {
      try {
        await this.store.ack(user, ids);
        return;
      } catch (err) {
        const delay = delays[attempt];
        if (delay === undefined) {
          // Given up: the ids stay in the mailbox and are delivered again on the next connection.
          this.logger.warn({ err, user, ids: ids.length, attempts: attempt + 1 }, 'ack failed');
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  }
}
