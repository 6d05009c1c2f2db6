/**
 * Client frames → work and answers. Every answer goes through `session.answerInOrder`, so a
 * connection's answers keep the order of its frames; the work starts as the frame arrives, so
 * Redis sees a connection's sends in order and assigns their seqs in order.
 */
import {
  CloseCode,
  CloseReason,
  ErrorCode,
  parseClientFrame,
  type AckFrame,
  type DeliveryStatus,
  type ErrorFrame,
  type PresenceQueryFrame,
  type SendFrame,
  type ServerFrame,
} from '@postbox/protocol';
import type { Logger } from '@postbox/logger';
import { AckBatcher } from './acks';
import { Refusal, type Admission } from './admission';
import type { MessageBus, Routes } from './bus/bus';
import type { MonotonicUlid } from './ids';
import type { GatewayMetrics } from './metrics';
import type { Session } from './session';
import type { MailboxStore, StoredMessage } from './store/store';

export interface RouterSettings {
  maxBodyBytes: number;
  /** Gateway-wide bound on sends in flight, consulted before each send; none in unit tests. */
  admission?: Admission;
}

/** Where live copies go: this gateway's own sessions in process, others through the bus. */
export interface LiveRouting {
  /** This gateway's route when no other gateway shares it, else -1. */
  localRoute(): number;
  /** Writes a just-stored message to this gateway's sessions of its recipient (no bus hop). */
  deliverLocal(message: StoredMessage): void;
}

export class Router {
  private readonly acks: AckBatcher;

  constructor(
    private readonly store: MailboxStore,
    private readonly bus: MessageBus,
    private readonly ids: MonotonicUlid,
    private readonly metrics: GatewayMetrics,
    private readonly logger: Logger,
    private readonly settings: RouterSettings,
    private readonly routing: LiveRouting,
  ) {
    this.acks = new AckBatcher(store, logger);
  }

  /** Shutdown, before the store closes: sends the acks gathered this turn and waits for them. */
  flushAcks(): Promise<void> {
    return this.acks.drain();
  }

  /** A text frame, or `undefined` for a binary one (refused as `invalid_frame`). */
  handle(session: Session, text: string | undefined): void {
    if (text === undefined) {
      this.refuseInvalid(session, error(ErrorCode.InvalidFrame, 'frames are JSON in WebSocket text frames'));
      return;
    }
    const parsed = parseClientFrame(text, { maxBytes: this.settings.maxBodyBytes });
    if (!parsed.ok) {
      const frame = error(parsed.error.code, parsed.error.message, parsed.error.cid);
      if (parsed.error.code === ErrorCode.TooLarge) this.answerError(session, frame);
      else this.refuseInvalid(session, frame);
      return;
    }
    const frame = parsed.frame;
    this.metrics.framesInByType[frame.type].inc();
    switch (frame.type) {
      case 'send':
        return this.send(session, frame, text.length);
      case 'ack':
        return this.ack(session, frame);
      case 'presence':
        return session.answerInOrder(this.guard(this.presence(frame), undefined));
      case 'ping':
        return session.answerInOrder({ type: 'pong', ts: Date.now() });
    }
  }

  private send(session: Session, frame: SendFrame, size: number): void {
    const admission = this.settings.admission;
    const ticket = admission === undefined ? 0 : admission.admit();
    if (ticket < 0) {
      this.refuseOverload(session, frame.cid, ticket === Refusal.Behind);
      return;
    }
    const now = Date.now();
    if (!session.budget.take(size, now)) {
      admission?.finish(ticket);
      this.metrics.refusedConnectionRate.inc();
      const retryAfterMs = session.budget.retryAfterMs(size, now);
      this.answerError(
        session,
        error(ErrorCode.RateLimited, 'too many sends: slow down and retry', frame.cid, retryAfterMs),
      );
      return;
    }
    const answer = this.guard(this.accept(session, frame), frame.cid);
    // `guard` never rejects: every admitted send is finished exactly once, whatever its answer.
    if (admission !== undefined) void answer.then(() => admission.finish(ticket));
    session.answerInOrder(answer);
  }

  /**
   * The gateway is past its capacity (admission.ts): refused before any Redis work, with one
   * small frame, so refusing stays cheap however many sends arrive (docs/protocol.md, Overload).
   */
  private refuseOverload(session: Session, cid: string | undefined, behind: boolean): void {
    (behind ? this.metrics.refusedBehind : this.metrics.refusedInFlight).inc();
    this.metrics.errorsRateLimited.inc();
    const retryAfterMs = this.settings.admission?.retryAfterMs;
    session.answerInOrder(
      error(
        ErrorCode.RateLimited,
        'the gateway is at capacity: not accepted, retry later',
        cid,
        retryAfterMs,
      ),
    );
  }

  private async accept(session: Session, frame: SendFrame): Promise<ServerFrame> {
    const { id, ts } = this.ids.next(Date.now());
    const cid = frame.cid;
    const localRoute = this.routing.localRoute();
    const request = { id, ts, from: session.user, to: frame.to, body: frame.body, cid, localRoute };
    const started = performance.now();
    let result;
    try {
      result = await this.store.accept(request);
    } catch (err) {
      this.logger.warn({ err, user: session.user }, 'accept failed: store unavailable');
      return this.countError(
        error(ErrorCode.Unavailable, 'message store unavailable: not accepted, retry later', cid),
      );
    } finally {
      this.metrics.acceptLatency.observe((performance.now() - started) / 1000);
    }
    switch (result.kind) {
      case 'mailbox_full':
        return this.countError(
          error(ErrorCode.MailboxFull, `${frame.to} has too many undelivered messages`, cid),
        );
      case 'duplicate': {
        this.metrics.acceptedDuplicate.inc();
        const status =
          result.status === 'pending' ? await this.republish(session.user, cid, result) : result.status;
        return withCid({ type: 'accepted', id: result.id, ts: result.ts, status }, cid);
      }
      case 'stored': {
        let status: DeliveryStatus = 'queued';
        if (result.online) {
          const remote = this.routeLive(result.message, result.routes, localRoute);
          // All sessions here: written already, and the store settled the cid as `sent` itself.
          if (remote.length === 0) status = 'sent';
          else {
            status = (await this.publish(result.message, remote)) ? 'sent' : 'queued';
            if (cid !== undefined) this.settle(session.user, cid, status);
          }
        }
        (status === 'sent' ? this.metrics.acceptedSent : this.metrics.acceptedQueued).inc();
        return withCid({ type: 'accepted', id, ts, status }, cid);
      }
    }
  }

  /**
   * Writes the message to this gateway's sessions when its route is among the recipient's, and
   * returns the routes left for the bus. The store reports routes, not gateways: a route shared by
   * two gateways (localRoute -1 then) goes through the bus like any other.
   */
  private routeLive(
    message: StoredMessage,
    routes: readonly number[],
    localRoute: number,
  ): readonly number[] {
    if (localRoute < 0 || !routes.includes(localRoute)) return routes;
    this.routing.deliverLocal(message);
    this.metrics.routedLocal.inc();
    return routes.length === 1 ? [] : routes.filter((route) => route !== localRoute);
  }

  /**
   * A repeat found the first send's publish unsettled: its gateway may have died between storing
   * and publishing, so publish again (the recipient may be online and waiting). If the first one
   * is merely still in flight, the recipient's sessions may see the message twice: the protocol's
   * at-least-once, and clients drop ids they have seen.
   */
  private async republish(
    from: string,
    cid: string | undefined,
    first: { id: string; to: string },
  ): Promise<DeliveryStatus> {
    let message;
    try {
      message = await this.store.readMessage(first.to, first.id);
    } catch (err) {
      this.logger.warn({ err }, 'could not read a message to publish again; it stays queued');
      return 'queued';
    }
    // Gone from the mailbox: acknowledged, so it was delivered. Where the recipient's sessions
    // are now is not known here: every route gets it (a rare path; receivers skip what they hold).
    const status: DeliveryStatus =
      message === undefined || (await this.publish(message, 'all')) ? 'sent' : 'queued';
    if (cid !== undefined) this.settle(from, cid, status);
    return status;
  }

  /**
   * Issued before the answer goes out, on the same Redis connection as any later repeat of the cid,
   * so a repeat always sees the settled status; a failure leaves `pending` (a repeat republishes).
   */
  private settle(from: string, cid: string, status: DeliveryStatus): void {
    this.store.settleStatus(from, cid, status).catch((err: unknown) => {
      this.logger.warn({ err }, 'could not settle the status of a cid');
    });
  }

  /** True once the bus acknowledged; false when it could not (the message waits in the mailbox). */
  private async publish(message: StoredMessage, routes: Routes): Promise<boolean> {
    if (!this.bus.isReady()) return false;
    const started = performance.now();
    try {
      await this.bus.publish(message, routes);
      this.metrics.publishLatency.observe((performance.now() - started) / 1000);
      return true;
    } catch (err) {
      this.metrics.publishFailures.inc();
      this.logger.warn({ err }, 'publish failed: message stays queued in the mailbox');
      return false;
    }
  }

  /** Acks have no reply: gathered per turn and user, one store call each (acks.ts). */
  private ack(session: Session, frame: AckFrame): void {
    this.metrics.acks.inc(frame.ids.length);
    this.acks.add(session.user, frame.ids);
  }

  private async presence(frame: PresenceQueryFrame): Promise<ServerFrame> {
    try {
      const online = await this.store.presence(frame.users);
      const users: Record<string, boolean> = {};
      for (const user of frame.users) users[user] = online.get(user) === true;
      return { type: 'presence', users };
    } catch (err) {
      this.logger.warn({ err }, 'presence query failed');
      return this.countError(error(ErrorCode.Unavailable, 'presence store unavailable, retry later'));
    }
  }

  /**
   * A bug must not take the process or the connection's answer stream down: it becomes an
   * `internal` error frame (nothing was accepted that the client was not told about: a send
   * either got its `accepted` or gets this, and a retry with the same cid is safe).
   */
  private guard(answer: Promise<ServerFrame>, cid: string | undefined): Promise<ServerFrame> {
    return answer.catch((err: unknown) => {
      this.logger.error({ err }, 'internal error while answering a frame');
      return this.countError(error(ErrorCode.Internal, 'internal error: retry later', cid));
    });
  }

  private refuseInvalid(session: Session, frame: ErrorFrame): void {
    this.answerError(session, frame);
    if (session.invalidFrames.exceeded(Date.now())) {
      session.close(CloseCode.PolicyViolation, CloseReason.InvalidFrames);
    }
  }

  private answerError(session: Session, frame: ErrorFrame): void {
    session.answerInOrder(this.countError(frame));
  }

  private countError(frame: ErrorFrame): ErrorFrame {
    this.metrics.errors.labels(frame.code).inc();
    return frame;
  }
}

function error(code: ErrorFrame['code'], message: string, cid?: string, retryAfterMs?: number): ErrorFrame {
  const frame: ErrorFrame =
    cid === undefined ? { type: 'error', code, message } : { type: 'error', code, message, cid };
  return retryAfterMs === undefined ? frame : { ...frame, retryAfterMs };
}

function withCid<T extends { type: 'accepted' }>(frame: T, cid: string | undefined): T & { cid?: string } {
  return cid === undefined ? frame : { ...frame, cid };
}
