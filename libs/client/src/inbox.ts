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
  /** True during the synchronous part of a handler call (to spot `close()` called from a handler). */
  private calling = false;
  private stopped = false;

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

  /** Writes every queued ack now, at most 1,000 ids per frame (docs/protocol.md). */
  flushAcks(): void {
    clearTimeout(this.ackTimer);
    this.ackTimer = undefined;
    while (this.acks.length > 0) {
      const batch = this.acks.slice(0, Defaults.maxAckIds);
      if (!this.options.write(batch)) return;
      this.acks.splice(0, batch.length);
    }
  }

  /** Resolves once every message received so far has been handled (and its ack queued). */
  idle(): Promise<void> {
    return this.chain;
  }

  /** True while a handler is being called: code running now was called by that handler. */
  get insideHandler(): boolean {
    return this.calling;
  }

  /** No more handler calls or ack timers; acks already queued stay until `flushAcks()`. */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.ackTimer);
    this.ackTimer = undefined;
  }

  private queueAcks(ids: readonly string[]): void {
    this.acks.push(...ids);
    if (this.stopped) return;
    if (this.acks.length >= Defaults.maxAckIds) this.flushAcks();
    else this.ackTimer ??= setTimeout(() => this.flushAcks(), this.options.ackDelayMs);
  }

  private dispatch(message: Message): void {
    this.chain = this.chain.then(async () => {
      // After close(): not handled, so not acknowledged; it comes again on the next connection.
      if (this.stopped) return;
      try {
        for (const handler of [...this.handlers]) {
          this.calling = true;
          let result: void | Promise<void>;
          try {
            result = handler(message);
          } finally {
            this.calling = false;
          }
          await result;
        }
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
