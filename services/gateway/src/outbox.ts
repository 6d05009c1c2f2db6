/**
 * One flush per event-loop turn for every connection that has frames waiting. Frames are
 * written from promise callbacks and the bus handler, outside any uWS callback, where every
 * `send` would be a write syscall of its own; queued here, a connection's frames of one turn go
 * out in one corked write (uWS packs them into its cork buffer and issues one syscall per ~16 KB).
 * One object per gateway: a session holds only its list of pending frames, and only while it has
 * some, so there is no timer or closure per connection.
 */

/** What the outbox needs of a session: write out what it queued (see `Session.flushOutput`). */
export interface PendingOutput {
  flushOutput(): void;
  /** The connection failed while being written to: stop writing to it. */
  markClosed(): void;
}

export class Outbox {
  private due: PendingOutput[] = [];
  private readonly flushAll = (): void => this.flush();

  /** `failed` reports a connection that threw while written to (uWS throws for a closed socket). */
  constructor(private readonly failed: (err: unknown) => void) {}

  /**
   * Registers a session whose first frame of this turn was just queued; the session calls it once
   * until it is flushed, so nobody is listed twice.
   */
  schedule(session: PendingOutput): void {
    this.due.push(session);
    if (this.due.length === 1) setImmediate(this.flushAll);
  }

  /** Writes every registered session's frames (also callable directly, e.g. by tests). */
  flush(): void {
    const due = this.due;
    if (due.length === 0) return;
    this.due = [];
    for (const session of due) {
      try {
        session.flushOutput();
      } catch (err) {
        this.failed(err);
        session.markClosed();
      }
    }
  }
}
