/**
 * Incoming messages: dedupe by id (delivery is at least once), hand each to the app's handlers
 * one at a time in arrival order, then acknowledge it, batched.
 */
import { Defaults, type MessageFrame } from '@postbox/protocol';
import { PostboxError } from './errors';
import { RecentIds } from './recent-ids';

export type Message = Omit<MessageFrame, 'type'>;
export type MessageHandler = (message: Message) => void | Promise<void>;

export interface InboxOptions {
  manualAck: boolean;
  ackDelayMs: number;
  dedupeCapacity: number;
  /** Writes an ack frame if a session is open; false to keep the ids for the next `welcome`. */
  write: (ids: string[]) => boolean;
  onError: (error: PostboxError) => void;
}

export class Inbox {
  private readonly recent: RecentIds;
  private readonly handlers = new Set<MessageHandler>();
  /** Messages that arrived before any handler was registered (e.g. the mailbox right after connect). */
  private backlog: Message[] = [];
  private chain: Promise<void> = Promise.resolve();
  private acks: string[] = [];
  private ackTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly options: InboxOptions) {
    this.recent = new RecentIds(options.dedupeCapacity);
  }

  onMessage(handler: MessageHandler): () => void {
    this.handlers.add(handler);
    const backlog = this.backlog;
    this.backlog = [];
    for (const message of backlog) this.dispatch(message);
    return () => this.handlers.delete(handler);
  }

  receive(frame: MessageFrame): void {
    const { type: _type, ...message } = frame;
    const state = this.recent.get(message.id);
    // Seen and acknowledged, yet delivered again: our ack was lost with a connection. Ack again,
    // or it would stay in the mailbox and come back on every connection.
    if (state === 'acked') return this.queueAcks([message.id]);
    if (state === 'delivered') return;
    this.recent.set(message.id, 'delivered');
    if (this.handlers.size === 0) this.backlog.push(message);
    else this.dispatch(message);
  }

  /** Acknowledges ids (manual mode, or after handlers return in automatic mode). */
  ack(ids: readonly string[]): void {
    for (const id of ids) this.recent.set(id, 'acked');
    this.queueAcks(ids);
  }

  /** Writes every queued ack now, at most 1,000 ids per frame (PROTOCOL.md). */
  flushAcks(): void {
    clearTimeout(this.ackTimer);
    this.ackTimer = undefined;
    while (this.acks.length > 0) {
      const batch = this.acks.slice(0, Defaults.maxAckIds);
      if (!this.options.write(batch)) return;
      this.acks.splice(0, batch.length);
    }
  }

  /** Resolves once every message received so far has been handled. */
  idle(): Promise<void> {
    return this.chain;
  }

  stop(): void {
    clearTimeout(this.ackTimer);
    this.ackTimer = undefined;
  }

  private queueAcks(ids: readonly string[]): void {
    this.acks.push(...ids);
    if (this.acks.length >= Defaults.maxAckIds) this.flushAcks();
    else this.ackTimer ??= setTimeout(() => this.flushAcks(), this.options.ackDelayMs);
  }

  private dispatch(message: Message): void {
    this.chain = this.chain.then(async () => {
      try {
        for (const handler of [...this.handlers]) await handler(message);
      } catch (cause) {
        // Not acknowledged and forgotten, so its next delivery (next connection) is handled again.
        this.recent.forget(message.id);
        const text = cause instanceof Error ? cause.message : String(cause);
        this.options.onError(
          new PostboxError('handler_failed', `message handler failed on ${message.id}: ${text}`),
        );
        return;
      }
      if (!this.options.manualAck) this.ack([message.id]);
    });
  }
}
