/**
 * One WebSocket session: who it is, where its mailbox sync stands, and its ordered reply
 * stream. Kept small (a handful of fields, no per-session timers or closures) because a gateway
 * holds tens of thousands of them.
 */
import { CloseCode, CloseReason, type ServerFrame } from '@postbox/protocol';
import type { Connection } from './connection';
import type { Outbox } from './outbox';
import type { StoredMessage } from './store/store';
import { InvalidFrameWindow, SendBudget, type RateSettings } from './limits';

export type SessionState = 'syncing' | 'live' | 'closed';

/** Shared by every session (one object per gateway, so it costs a session nothing). */
export interface SessionLimits extends RateSettings {
  maxBufferedBytes: number;
  /** Counts frames written to clients (the frames-out metric). */
  countFramesOut(count: number): void;
  /** Writes each session's frames of one event-loop turn in one corked write. */
  outbox: Outbox;
}

const settled: Promise<void> = Promise.resolve();
/**
 * Queued output past this goes out at once rather than at the end of the turn: one corked write
 * holds no more (uWS' cork buffer is 16 KB), and large frames (a mailbox page of big messages)
 * then reach the kernel while the next ones are being serialized, as they did before corking,
 * instead of in one burst that outruns a proxy draining the socket (seen as 1013s in
 * tests/gateway/slow-consumer.test.ts).
 */
const FLUSH_AT_BYTES = 16 * 1024;

export class Session {
  state: SessionState = 'syncing';
  /**
   * Every seq of this user up to here has been written (or was acknowledged elsewhere): set by
   * the mailbox sync, then advanced one by one by live delivery.
   */
  deliveredSeq = 0;
  /** Highest seq of a live message ignored while syncing: the sync must read at least this far. */
  missedLiveSeq = 0;
  /**
   * The user's seq when this session's lease was registered: every later message is published
   * live, so once the sync read the mailbox to its end, live delivery may start right after it.
   */
  startSeq = 0;
  /** Live messages that arrived ahead of a missing seq, by seq; allocated only when that happens. */
  held: Map<number, StoredMessage> | undefined;
  /** When the current gap in live seqs opened (ms), 0 when there is none. */
  gapSince = 0;
  readonly budget: SendBudget;
  readonly invalidFrames: InvalidFrameWindow;
  private conn: Connection | undefined;
  /** Frames queued this turn, in order, until the outbox flushes them; allocated only then. */
  private pending: string[] | undefined;
  /** Their size in UTF-16 code units (bytes for ASCII JSON): close enough for backpressure. */
  private pendingBytes = 0;
  private replies: Promise<void> = settled;
  private drained: (() => void) | undefined;

  constructor(
    readonly id: string,
    readonly user: string,
    readonly expiresAt: number,
    private readonly limits: SessionLimits,
    now: number,
  ) {
    this.budget = new SendBudget(limits, now);
    this.invalidFrames = new InvalidFrameWindow(limits);
  }

  attach(conn: Connection): void {
    this.conn = conn;
  }

  get isOpen(): boolean {
    return this.state !== 'closed' && this.conn !== undefined;
  }

  /**
   * Queues one frame; the session's frames of this turn go out together, in order, in one corked
   * write (`flushOutput`), or at once past FLUSH_AT_BYTES. Returns false when the session is
   * closed (nothing is queued then).
   */
  write(frame: ServerFrame | string): boolean {
    if (this.conn === undefined || this.state === 'closed') return false;
    const text = typeof frame === 'string' ? frame : JSON.stringify(frame);
    if (this.pending === undefined) {
      this.pending = [text];
      this.limits.outbox.schedule(this);
    } else {
      this.pending.push(text);
    }
    this.pendingBytes += text.length;
    // The outbox may then list the session twice this turn: the second flush finds nothing.
    if (this.pendingBytes >= FLUSH_AT_BYTES) this.flushOutput();
    return true;
  }

  /**
   * Called by the outbox once per turn. A client whose unread output passes the limit is closed
   * with 1013 and gets nothing more (what it missed is still in its mailbox): checked after each
   * frame is handed to uWS, so every pending byte counts, as when frames were written one by one.
   */
  flushOutput(): void {
    const frames = this.pending;
    const conn = this.conn;
    this.pending = undefined;
    this.pendingBytes = 0;
    if (frames === undefined || conn === undefined || this.state === 'closed') return;
    let written = 0;
    conn.cork(() => {
      written = writeUntilFull(conn, frames, this.limits.maxBufferedBytes);
    });
    this.limits.countFramesOut(written);
    if (written < frames.length || conn.getBufferedAmount() > this.limits.maxBufferedBytes) {
      this.close(CloseCode.TryAgainLater, CloseReason.SlowConsumer);
    } else if (this.drained !== undefined && conn.getBufferedAmount() === 0) {
      // Backed up only by frames that were still queued: uWS, holding nothing, sends no drain.
      this.onDrain();
    }
  }

  /**
   * Answers go out in the order their frames arrived, even when a later frame's work finishes
   * first (docs/protocol.md: one connection is one ordered stream). The work itself starts at once.
   */
  answerInOrder(answer: Promise<ServerFrame | undefined> | ServerFrame | undefined): void {
    this.replies = this.replies
      .then(() => answer)
      .then((frame) => {
        if (frame !== undefined) this.write(frame);
      })
      // The router turns failed work into error frames; reaching here means the stream itself
      // broke, so end the connection (the client resyncs) rather than go silent.
      .catch(() => this.close(CloseCode.InternalError, CloseReason.Internal));
  }

  /** True when the client is not keeping up, so the next mailbox page should wait for `drain`. */
  isBackedUp(lowWaterBytes: number): boolean {
    return this.conn !== undefined && this.conn.getBufferedAmount() + this.pendingBytes > lowWaterBytes;
  }

  waitForDrain(): Promise<void> {
    return new Promise((resolve) => {
      this.drained = resolve;
    });
  }

  /** Called by the transport when the socket's buffer drained, and on close (nothing waits forever). */
  onDrain(): void {
    const resolve = this.drained;
    this.drained = undefined;
    resolve?.();
  }

  /** Frames queued before the close still go out, ahead of the close frame. */
  close(code: number, reason: string): void {
    if (this.state === 'closed') return;
    const conn = this.conn;
    const frames = this.pending;
    this.markClosed();
    if (conn === undefined) return;
    if (frames === undefined) {
      conn.end(code, reason);
      return;
    }
    conn.cork(() => {
      this.limits.countFramesOut(writeUntilFull(conn, frames, this.limits.maxBufferedBytes));
      conn.end(code, reason);
    });
  }

  /** The socket is gone (closed by either side): stop writing, drop what was queued. */
  markClosed(): void {
    this.state = 'closed';
    this.conn = undefined;
    this.pending = undefined;
    this.pendingBytes = 0;
    this.onDrain();
  }
}

/**
 * Hands frames to uWS in order until one is dropped or the unread output passes `maxBytes`
 * (uWS answers 0 once it holds output: only then is its size read). Returns how many were taken.
 */
function writeUntilFull(conn: Connection, frames: readonly string[], maxBytes: number): number {
  let taken = 0;
  for (const text of frames) {
    const status = conn.send(text);
    if (status === 2) break;
    taken += 1;
    if (status === 0 && conn.getBufferedAmount() > maxBytes) break;
  }
  return taken;
}
