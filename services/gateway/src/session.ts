/**
 * One WebSocket session: who it is, where its mailbox sync stands, and its ordered reply
 * stream. Kept small (a handful of fields, no per-session timers or closures) because a gateway
 * holds tens of thousands of them.
 */
import { CloseCode, CloseReason, type ServerFrame } from '@postbox/protocol';
import type { Connection } from './connection';
import type { StoredMessage } from './store/store';
import { InvalidFrameWindow, SendBudget, type RateSettings } from './limits';

export type SessionState = 'syncing' | 'live' | 'closed';

/** Shared by every session (one object per gateway, so it costs a session nothing). */
export interface SessionLimits extends RateSettings {
  maxBufferedBytes: number;
  /** Counts frames written to clients (the frames-out metric). */
  countFrameOut(): void;
}

const settled: Promise<void> = Promise.resolve();

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
   * Writes one frame. A client whose unread output passes the limit is closed with 1013; what
   * it missed is still in its mailbox. Returns false when the frame was not written.
   */
  write(frame: ServerFrame | string): boolean {
    const conn = this.conn;
    if (conn === undefined || this.state === 'closed') return false;
    const status = conn.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
    this.limits.countFrameOut();
    if (status === 2 || conn.getBufferedAmount() > this.limits.maxBufferedBytes) {
      this.close(CloseCode.TryAgainLater, CloseReason.SlowConsumer);
      return status !== 2;
    }
    return true;
  }

  /**
   * Answers go out in the order their frames arrived, even when a later frame's work finishes
   * first (PROTOCOL.md: one connection is one ordered stream). The work itself starts at once.
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
    return this.conn !== undefined && this.conn.getBufferedAmount() > lowWaterBytes;
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

  close(code: number, reason: string): void {
    if (this.state === 'closed') return;
    const conn = this.conn;
    this.markClosed();
    conn?.end(code, reason);
  }

  /** The socket is gone (closed by either side): stop writing. */
  markClosed(): void {
    this.state = 'closed';
    this.conn = undefined;
    this.onDrain();
  }
}
