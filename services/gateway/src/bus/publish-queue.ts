/**
 * Batches publishes: one send per `batchMax` records or per `lingerMs`, whichever comes first,
 * with at most one send in flight. One send at a time is what keeps a recipient's messages in
 * order across batches (together with the idempotent producer's single in-flight request).
 * Records that arrive while a send is in flight go out as the next batch right after it, so under
 * load the send time itself is the linger and no timer runs at all.
 */
import type { OutboundRecord } from './record';

export interface PublishQueueOptions {
  lingerMs: number;
  batchMax: number;
  /**
   * Bytes of keys and values per send, at most (a single larger record still goes alone). The
   * broker refuses a whole batch above its message.max.bytes (1 MiB by default), and 20 messages
   * of 60 KB already pass it: the batch would fail and the fail-fast window would then refuse
   * every publish of this gateway. Unbounded when absent.
   */
  batchMaxBytes?: number;
  /** Queued plus in flight; beyond this, publishes reject at once (back-pressure, bounded memory). */
  maxPending: number;
  /** After a failed send, publishes reject at once for this long; the next one after is a probe. */
  failFastMs: number;
}

export type SendRecords = (records: OutboundRecord[]) => Promise<void>;

/** The bus cannot take the message now; the caller keeps it in the mailbox (Redis is the truth). */
export class BusUnavailableError extends Error {
  override name = 'BusUnavailableError';
}

interface Pending {
  record: OutboundRecord;
  resolve: () => void;
  reject: (error: Error) => void;
}

export class PublishQueue {
  private queue: Pending[] = [];
  private pending = 0;
  private draining: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private failingUntil = 0;
  private lastFailure: Error | undefined;
  private closed: Error | undefined;

  constructor(
    private readonly send: SendRecords,
    private readonly options: PublishQueueOptions,
  ) {}

  enqueue(record: OutboundRecord): Promise<void> {
    if (this.closed !== undefined) return Promise.reject(this.closed);
    if (this.failingUntil !== 0 && Date.now() < this.failingUntil) {
      return Promise.reject(
        new BusUnavailableError(`bus unavailable: ${this.lastFailure?.message ?? 'last send failed'}`),
      );
    }
    if (this.pending >= this.options.maxPending) {
      return Promise.reject(new BusUnavailableError(`bus overloaded: ${this.pending} publishes pending`));
    }
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ record, resolve, reject });
      this.pending += 1;
      this.schedule();
    });
  }

  /** True while the last send failed recently: the broker is most likely unreachable. */
  isFailing(): boolean {
    return this.failingUntil !== 0 && Date.now() < this.failingUntil;
  }

  /** Refuses new publishes from now on; those already queued still go out with `flush`. */
  close(reason: Error): void {
    this.closed ??= reason;
  }

  /** Sends everything queued; waits at most `timeoutMs`, then rejects what is still queued. */
  async flush(timeoutMs: number): Promise<void> {
    this.startDrain();
    const draining = this.draining;
    if (draining === undefined) return;
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(true), timeoutMs);
    });
    const timedOut = await Promise.race([draining.then(() => false), expired]);
    clearTimeout(timer);
    if (timedOut) this.rejectQueued(new BusUnavailableError(`flush did not finish within ${timeoutMs} ms`));
  }

  private schedule(): void {
    if (this.draining !== undefined) return; // the running drain takes it next
    if (this.queue.length >= this.options.batchMax) {
      this.startDrain();
    } else if (this.timer === undefined) {
      this.timer = setTimeout(() => this.startDrain(), this.options.lingerMs);
    }
  }

  private startDrain(): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.draining !== undefined || this.queue.length === 0) return;
    this.draining = this.drain();
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      await this.sendBatch(this.take());
    }
    // Cleared in the same tick as the emptiness check above, so no enqueue can slip between
    // them unseen (it would find `draining` set and wait for a drain that already ended).
    this.draining = undefined;
  }

  private take(): Pending[] {
    const { batchMax, batchMaxBytes = Infinity } = this.options;
    let count = 0;
    let bytes = 0;
    for (const { record } of this.queue) {
      bytes += Buffer.byteLength(record.key) + Buffer.byteLength(record.value);
      if (count >= batchMax || (count > 0 && bytes > batchMaxBytes)) break;
      count += 1;
    }
    if (count === this.queue.length) {
      const batch = this.queue;
      this.queue = [];
      return batch;
    }
    return this.queue.splice(0, count);
  }

  /** Never throws: the outcome goes to each publisher's promise. */
  private async sendBatch(batch: Pending[]): Promise<void> {
    try {
      await this.send(batch.map((p) => p.record));
      this.failingUntil = 0;
      for (const p of batch) p.resolve();
    } catch (cause) {
      const error = cause instanceof Error ? cause : new Error(String(cause));
      this.lastFailure = error;
      this.failingUntil = Date.now() + this.options.failFastMs;
      for (const p of batch) p.reject(error);
      // What waits behind a failed send would fail the same way, only slower.
      this.rejectQueued(error);
    } finally {
      this.pending -= batch.length;
    }
  }

  private rejectQueued(error: Error): void {
    const queued = this.queue;
    this.queue = [];
    this.pending -= queued.length;
    for (const p of queued) p.reject(error);
  }
}
