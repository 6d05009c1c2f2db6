/**
 * Getting messages onto sockets: the mailbox snapshot after `welcome`, then live messages from
 * the bus. The hand-over between the two is where messages get lost or doubled, so:
 * - the session's lease is registered before the first page is read, so every message accepted
 *   after that point is also published live, and every one accepted before is in the mailbox;
 * - while syncing, live messages are not written, but the highest such seq is remembered and the
 *   sync keeps reading until it has passed it (a live message may be consumed before the Redis
 *   reply of the page that would contain it is processed), or until a read issued after it was
 *   seen reached the end of the mailbox without it (another device acked it meanwhile: waiting
 *   for it to appear would spin on Redis forever and never send `synced`);
 * - once live, live.ts takes over: seqs at or below the last one delivered are skipped, messages
 *   ahead of a missing seq wait for it, and a gap that stays open is filled from the mailbox.
 */
import { CloseCode, CloseReason } from '@postbox/protocol';
import type { Logger } from '@postbox/logger';
import { toFrame, type LiveDelivery } from './live';
import type { GatewayMetrics } from './metrics';
import type { Session } from './session';
import type { SessionRegistry } from './sessions';
import type { MailboxStore, StoredMessage } from './store/store';

export interface DeliverySettings {
  pageSize: number;
  /** Wait for the socket to drain before reading the next page above this many buffered bytes. */
  lowWaterBytes: number;
}

export class Delivery {
  constructor(
    private readonly store: MailboxStore,
    private readonly sessions: SessionRegistry,
    private readonly metrics: GatewayMetrics,
    private readonly logger: Logger,
    private readonly settings: DeliverySettings,
    private readonly live: LiveDelivery,
  ) {}

  /** Writes the mailbox in pages, then `synced`, then switches the session to live. */
  async sync(session: Session): Promise<void> {
    const { pageSize, lowWaterBytes } = this.settings;
    let first = true;
    try {
      for (;;) {
        // A read issued after a live message was seen returns it unless it is gone (acked by
        // another device, expired): then nothing more is owed for it and the sync may end.
        const seenBeforeRead = session.missedLiveSeq;
        const page = await this.store.readMailbox(session.user, session.deliveredSeq, pageSize);
        if (!session.isOpen) return;
        if (first) this.metrics.mailboxSnapshot.observe(page.length);
        first = false;
        for (const message of page) {
          session.write(toFrame(message));
          session.deliveredSeq = message.seq;
        }
        this.metrics.deliveredMailbox.inc(page.length);
        if (page.length < pageSize && session.missedLiveSeq <= Math.max(session.deliveredSeq, seenBeforeRead))
          break;
        if (session.isBackedUp(lowWaterBytes)) await session.waitForDrain();
        if (!session.isOpen) return;
      }
      // Live messages seen while syncing were all covered by a read: written, or acknowledged
      // elsewhere; so was every seq up to the one the lease was registered at. Without startSeq a
      // returning user's first live message would look like a gap and wait for gap repair.
      session.deliveredSeq = Math.max(session.deliveredSeq, session.missedLiveSeq, session.startSeq);
      session.state = 'live';
      session.write({ type: 'synced' });
    } catch (error) {
      this.logger.warn({ err: error, user: session.user, session: session.id }, 'mailbox sync failed');
      session.close(CloseCode.InternalError, CloseReason.Internal);
    }
  }

  /** A batch from the bus: write each message to this gateway's sessions of its recipient. */
  onBusMessages = (messages: readonly StoredMessage[]): void => {
    const now = Date.now();
    this.metrics.busRecords.inc(messages.length);
    for (const message of messages) {
      this.metrics.busLag.observe((now - message.ts) / 1000);
      this.toSessions(message);
    }
  };

  /** A message just stored by this gateway for a recipient whose sessions are all here. */
  deliverLocal = (message: StoredMessage): void => {
    this.toSessions(message);
  };

  private toSessions(message: StoredMessage): void {
    const sessions = this.sessions.sessionsOf(message.to);
    if (sessions === undefined) return;
    for (const session of sessions) {
      if (session.state === 'syncing') {
        if (message.seq > session.missedLiveSeq) session.missedLiveSeq = message.seq;
      } else if (session.state === 'live') {
        this.live.deliver(session, message);
      }
    }
  }
}
