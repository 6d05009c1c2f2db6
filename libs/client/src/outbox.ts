/**
 * Sends waiting for their `accepted`. Each keeps its cid for its whole life, so re-sending it
 * after a reconnect (its answer may have been lost with the old connection) or after a
 * retryable error is idempotent: the server answers with the first send's id and delivers once.
 */
import {
  RETRYABLE_ERRORS,
  parseClientFrame,
  type AcceptedFrame,
  type DeliveryStatus,
  type ErrorFrame,
  type SendFrame,
} from '@postbox/protocol';
import { backoffDelay, type BackoffOptions } from './backoff';
import { PostboxError } from './errors';

export interface Accepted {
  id: string;
  status: DeliveryStatus;
  ts: number;
}

export interface OutboxOptions {
  timeoutMs: number;
  maxRetries: number;
  backoff: BackoffOptions;
  random: () => number;
  /** Writes the frame if a session is open; false when it must wait for the next `welcome`. */
  write: (frame: SendFrame) => boolean;
}

interface PendingSend {
  frame: SendFrame;
  resolve: (accepted: Accepted) => void;
  reject: (error: PostboxError) => void;
  retries: number;
  timeout: ReturnType<typeof setTimeout>;
  retry?: ReturnType<typeof setTimeout>;
}

const encoder = new TextEncoder();

function utf8Bytes(text: string): number {
  return encoder.encode(text).length;
}

export class Outbox {
  // A Map iterates in insertion order, so a reconnect re-sends in the order the app sent.
  private readonly pending = new Map<string, PendingSend>();

  constructor(private readonly options: OutboxOptions) {}

  get size(): number {
    return this.pending.size;
  }

  add(frame: SendFrame, maxBytes: number): Promise<Accepted> {
    // The size is checked here with TextEncoder: parseClientFrame counts bytes with Buffer, which
    // browsers lack, so it gets no limit.
    const checked = parseClientFrame(JSON.stringify(frame), { maxBytes: Number.POSITIVE_INFINITY });
    if (!checked.ok) return Promise.reject(new PostboxError(checked.error.code, checked.error.message));
    if (utf8Bytes(frame.body) > maxBytes)
      return Promise.reject(new PostboxError('too_large', `body exceeds ${maxBytes} UTF-8 bytes`));
    const cid = frame.cid;
    if (cid === undefined) return Promise.reject(new PostboxError('invalid_frame', 'a cid is required'));
    if (this.pending.has(cid))
      return Promise.reject(new PostboxError('invalid_frame', `cid ${cid} is already pending`));
    return new Promise<Accepted>((resolve, reject) => {
      const timeout = setTimeout(
        () => this.settle(cid, new PostboxError('timeout', `no answer to send ${cid} in time`)),
        this.options.timeoutMs,
      );
      this.pending.set(cid, { frame, resolve, reject, retries: 0, timeout });
      this.options.write(frame);
    });
  }

  /** Resolves the send this answers; a repeat answer (same cid after a re-send) is ignored. */
  accepted(frame: AcceptedFrame): void {
    if (frame.cid === undefined) return;
    this.settle(frame.cid, { id: frame.id, status: frame.status, ts: frame.ts });
  }

  /** Handles an `error` answering one of our sends; false when it answers nothing pending. */
  refused(frame: ErrorFrame): boolean {
    const entry = frame.cid === undefined ? undefined : this.pending.get(frame.cid);
    if (frame.cid === undefined || entry === undefined) return false;
    const cid = frame.cid;
    if (!RETRYABLE_ERRORS.has(frame.code) || entry.retries >= this.options.maxRetries) {
      this.settle(cid, new PostboxError(frame.code, frame.message));
      return true;
    }
    // The server's `retryAfterMs` (docs/protocol.md, Overload) is a floor; the jitter on top keeps
    // the clients a busy gateway refused at once from all coming back at the same moment.
    const delay =
      (frame.retryAfterMs ?? 0) + backoffDelay(entry.retries, this.options.backoff, this.options.random);
    entry.retries += 1;
    clearTimeout(entry.retry);
    entry.retry = setTimeout(() => {
      entry.retry = undefined;
      if (this.pending.get(cid) === entry) this.options.write(entry.frame);
    }, delay);
    return true;
  }

  /** After `welcome`: every unanswered send goes out again, same cid, in the original order. */
  resendAll(): void {
    for (const entry of this.pending.values()) {
      clearTimeout(entry.retry);
      entry.retry = undefined;
      this.options.write(entry.frame);
    }
  }

  failAll(error: PostboxError): void {
    for (const cid of [...this.pending.keys()]) this.settle(cid, error);
  }

  private settle(cid: string, outcome: Accepted | PostboxError): void {
    const entry = this.pending.get(cid);
    if (entry === undefined) return;
    this.pending.delete(cid);
    clearTimeout(entry.timeout);
    clearTimeout(entry.retry);
    if (outcome instanceof PostboxError) entry.reject(outcome);
    else entry.resolve(outcome);
  }
}
