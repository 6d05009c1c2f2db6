/**
 * Live delivery in seq order, with gap repair. Every message accepted for a user while one of
 * their sessions is live gets the next seq of that user and is normally published; so once
 * synced, a session should see every following seq exactly once. Two things break that, and this
 * file mends both:
 * - messages published by different gateways can reach the topic out of seq order: a message
 *   ahead of a missing seq is held (briefly) until the missing one arrives, so one sender's
 *   messages are never reordered;
 * - a message may never be published (Kafka was down: `queued`; its gateway died between storing
 *   and publishing; the lease lapsed): after `gapWaitMs` the session reads the gap from the
 *   mailbox, where every accepted message sits until acknowledged. A seq missing from the mailbox
 *   was acknowledged elsewhere, and is skipped.
 * Seqs at or below `deliveredSeq` are skipped, so a bus redelivery never reaches a connection twice.
 */
import { CloseCode, CloseReason, type MessageFrame } from '@postbox/protocol';
import type { Logger } from '@postbox/logger';
import type { GatewayMetrics } from './metrics';
import type { Session } from './session';
import type { MailboxStore, StoredMessage } from './store/store';

export interface LiveSettings {
  /** How long a gap may stay open before the mailbox is read to fill it. */
  gapWaitMs: number;
  /** Held messages per session beyond which the session is closed (it resyncs on reconnect). */
  maxHeld: number;
  pageSize: number;
  /** Sessions read at once by `catchUp`. */
  catchUpBatch: number;
  /** `catchUp` waits for a socket to drain above this many buffered bytes. */
  lowWaterBytes: number;
}

export class LiveDelivery {
  private readonly gapped = new Set<Session>();
  private readonly repairing = new Set<Session>();

  constructor(
    private readonly store: MailboxStore,
    private readonly metrics: GatewayMetrics,
    private readonly logger: Logger,
    private readonly settings: LiveSettings,
  ) {}

  /** A live message for a session that finished its sync. */
  deliver(session: Session, message: StoredMessage): void {
    if (message.seq <= session.deliveredSeq || session.held?.has(message.seq)) return;
    if (message.seq === session.deliveredSeq + 1) {
      this.write(session, message);
      this.flushHeld(session);
      return;
    }
    session.held ??= new Map();
    session.held.set(message.seq, message);
    if (session.gapSince === 0) session.gapSince = Date.now();
    this.gapped.add(session);
    if (session.held.size > this.settings.maxHeld) {
      this.logger.warn(
        { user: session.user, held: session.held.size },
        'live gap not repaired: closing the session',
      );
      this.forget(session);
      session.close(CloseCode.InternalError, CloseReason.Internal);
    }
  }

  /** Called about every `gapWaitMs / 2`: fills gaps older than `gapWaitMs` from the mailbox. */
  repairGaps(now: number): void {
    for (const session of this.gapped) {
      if (!session.isOpen) this.forget(session);
      else if (now - session.gapSince >= this.settings.gapWaitMs && !this.repairing.has(session)) {
        this.repairing.add(session);
        void this.repair(session).finally(() => this.repairing.delete(session));
      }
    }
  }

  /**
   * The bus is back after an outage (or started after sessions connected): messages accepted
   * meanwhile were stored but never published, and a connected recipient would otherwise wait for
   * the next live message (or its next connection) to notice. So every live session reads its
   * mailbox past what it was given, a few sessions at a time so Redis sees a bounded burst.
   */
  async catchUp(sessions: readonly Session[]): Promise<void> {
    const batch = this.settings.catchUpBatch;
    for (let first = 0; first < sessions.length; first += batch) {
      await Promise.all(sessions.slice(first, first + batch).map((session) => this.readOn(session)));
    }
  }

  private async readOn(session: Session): Promise<void> {
    for (;;) {
      if (session.state !== 'live') return;
      let page: StoredMessage[];
      try {
        page = await this.store.readMailbox(session.user, session.deliveredSeq, this.settings.pageSize);
      } catch (err) {
        // Gap repair still covers this session once the next live message shows the gap.
        this.logger.warn({ err, user: session.user }, 'catch-up read failed');
        return;
      }
      if (session.state !== 'live') return;
      for (const message of page) {
        if (message.seq <= session.deliveredSeq) continue;
        this.write(session, message);
        this.metrics.caughtUp.inc();
      }
      const held = session.held;
      if (held !== undefined) {
        for (const seq of held.keys()) if (seq <= session.deliveredSeq) held.delete(seq);
        this.flushHeld(session);
      }
      if (page.length < this.settings.pageSize) return;
      if (session.isBackedUp(this.settings.lowWaterBytes)) await session.waitForDrain();
    }
  }

  forget(session: Session): void {
    this.gapped.delete(session);
    session.held = undefined;
    session.gapSince = 0;
  }

  private async repair(session: Session): Promise<void> {
    const held = session.held;
    if (held === undefined || held.size === 0) return this.forget(session);
    const target = Math.max(...held.keys());
    let page: StoredMessage[];
    try {
      page = await this.store.readMailbox(session.user, session.deliveredSeq, this.settings.pageSize);
    } catch (err) {
      this.logger.warn({ err, user: session.user }, 'live gap repair failed; retrying');
      return;
    }
    if (!session.isOpen) return this.forget(session);
    this.metrics.gapRepairs.inc();
    // The page lists every seq still in the mailbox from deliveredSeq on; a seq it skips below
    // its end (or below the target, when it reached the mailbox's end) was acknowledged elsewhere.
    const coveredTo = page.length < this.settings.pageSize ? target : (page[page.length - 1]?.seq ?? target);
    for (const message of page) {
      if (message.seq > coveredTo) break;
      if (!held.has(message.seq) && message.seq > session.deliveredSeq) held.set(message.seq, message);
    }
    for (let seq = session.deliveredSeq + 1; seq <= coveredTo; seq += 1) {
      const message = held.get(seq);
      if (message !== undefined) this.write(session, message);
      else session.deliveredSeq = seq;
    }
    this.flushHeld(session);
    // A full page may have stopped short of the target: read on at the next sweep.
    if (session.held?.size) session.gapSince = coveredTo < target ? 1 : Date.now();
  }

  private write(session: Session, message: StoredMessage): void {
    session.held?.delete(message.seq);
    session.deliveredSeq = message.seq;
    if (session.write(JSON.stringify(toFrame(message)))) {
      this.metrics.deliveredLive.inc();
      this.metrics.deliveryLatency.observe((Date.now() - message.ts) / 1000);
    }
  }

  private flushHeld(session: Session): void {
    const held = session.held;
    if (held === undefined) return;
    for (
      let next = held.get(session.deliveredSeq + 1);
      next !== undefined;
      next = held.get(session.deliveredSeq + 1)
    ) {
      this.write(session, next);
    }
    if (held.size === 0) this.forget(session);
  }
}

export function toFrame(message: StoredMessage): MessageFrame {
  return {
    type: 'message',
    id: message.id,
    from: message.from,
    to: message.to,
    body: message.body,
    ts: message.ts,
  };
}
