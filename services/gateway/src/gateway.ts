/**
 * The gateway's WebSocket life cycle: authorize the upgrade (origin, token, connection cap),
 * open (welcome, mailbox sync), frames, close, and the drain on shutdown. Transport-agnostic:
 * it is handed a `Connection` and never sees uWebSockets.js.
 */
import { randomBytes } from 'node:crypto';
import { CloseCode, CloseReason, UpgradeError } from '@postbox/protocol';
import type { Logger } from '@postbox/logger';
import type { TokenVerifier } from './auth/tokens';
import { pickCredential } from './auth/tokens';
import type { MessageBus } from './bus/bus';
import type { Connection } from './connection';
import type { Delivery } from './delivery';
import type { GatewayMetrics } from './metrics';
import type { GatewayRoute } from './route';
import type { Router } from './router';
import { Session, type SessionLimits } from './session';
import type { SessionRegistry } from './sessions';
import type { MailboxStore } from './store/store';
import type { TransportHandlers, UpgradeDecision, UpgradeRequest } from './transport/uws';

export interface GatewaySettings {
  gatewayId: string;
  allowedOrigins: readonly string[];
  maxBodyBytes: number;
  maxFrameBytes: number;
  limits: SessionLimits;
}

export interface GatewayParts {
  store: MailboxStore;
  bus: MessageBus;
  tokens: TokenVerifier;
  sessions: SessionRegistry;
  router: Router;
  delivery: Delivery;
  route: GatewayRoute;
  metrics: GatewayMetrics;
  logger: Logger;
}

export class Gateway {
  private draining = false;
  private storeReachable = true;

  constructor(
    private readonly settings: GatewaySettings,
    private readonly parts: GatewayParts,
  ) {}

  get isDraining(): boolean {
    return this.draining;
  }

  /** Kept fresh by the readiness probe loop; upgrades are refused (503) while the store is down. */
  setStoreReachable(reachable: boolean): void {
    this.storeReachable = reachable;
  }

  handlers(): Omit<TransportHandlers<Session>, 'http'> {
    return {
      authorize: (request) => this.authorize(request),
      abandoned: (session, when, code) => {
        this.parts.metrics.upgradesAbandoned.labels(when).inc();
        // Seen at gateway start under load (1 in ~500 connects, no frame written yet): visible here
        // until explained; the client sees 1006 and reconnects.
        if (when === 'open')
          this.parts.logger.info({ code, user: session.user }, 'socket closed before it opened');
        this.release(session);
      },
      open: (session, conn) => this.open(session, conn),
      message: (session, text) => this.parts.router.handle(session, text),
      drain: (session) => session.onDrain(),
      close: (session, code) => this.closed(session, code),
    };
  }

  private async authorize(request: UpgradeRequest): Promise<UpgradeDecision<Session>> {
    const { allowedOrigins } = this.settings;
    if (this.draining || !this.storeReachable) {
      return this.refuse(
        UpgradeError.Unavailable,
        this.draining ? 'the gateway is draining: reconnect' : 'not ready',
      );
    }
    if (
      allowedOrigins.length > 0 &&
      request.origin !== undefined &&
      !allowedOrigins.includes(request.origin)
    ) {
      return this.refuse(UpgradeError.Forbidden, 'this Origin is not allowed');
    }
    const credential = pickCredential(request.authorization, request.queryToken);
    if (credential === undefined) {
      return this.refuse(
        UpgradeError.Unauthorized,
        'a token is required: Authorization: Bearer <JWT> or ?token=<JWT>',
      );
    }
    const check = await this.parts.tokens.verify(credential);
    if (!check.ok) return this.refuse(UpgradeError.Unauthorized, check.reason);

    const gateway = this.parts.route.ref;
    if (gateway === undefined) return this.refuse(UpgradeError.Unavailable, 'not ready');
    const now = Date.now();
    const session = new Session(
      randomBytes(9).toString('base64url'),
      check.token.user,
      check.token.expiresAt,
      this.settings.limits,
      now,
    );
    try {
      const opened = await this.parts.store.openSession(
        { user: session.user, sessionId: session.id },
        gateway,
      );
      if (opened.kind === 'too_many_connections') {
        return this.refuse(
          UpgradeError.TooManyConnections,
          'this user holds the maximum number of connections',
        );
      }
      session.startSeq = opened.seq;
    } catch (err) {
      this.parts.logger.warn({ err }, 'could not register a session: store unavailable');
      return this.refuse(UpgradeError.Unavailable, 'the message store is unavailable, retry later');
    }
    return { accept: true, context: session };
  }

  private refuse(kind: UpgradeError, message: string): UpgradeDecision<Session> {
    this.parts.metrics.upgradesRefused.labels(String(kind.status)).inc();
    return { accept: false, status: kind.status, body: { error: kind.error, message } };
  }

  private open(session: Session, conn: Connection): void {
    const { metrics, sessions, delivery } = this.parts;
    session.attach(conn);
    sessions.add(session);
    metrics.connections.inc();
    session.write({
      type: 'welcome',
      user: session.user,
      session: session.id,
      gateway: this.settings.gatewayId,
      maxBytes: this.settings.maxBodyBytes,
      maxFrameBytes: this.settings.maxFrameBytes,
    });
    if (this.draining) {
      session.close(CloseCode.ServiceRestart, CloseReason.Draining);
      return;
    }
    void delivery.sync(session);
  }

  private closed(session: Session, code: number): void {
    session.markClosed();
    this.parts.sessions.remove(session);
    this.parts.metrics.connections.dec();
    this.parts.metrics.closes.labels(String(code)).inc();
    this.release(session);
  }

  /** Ends the session's lease at once, so presence reads offline without waiting for expiry. */
  private release(session: Session): void {
    const gateway = this.parts.route.ref;
    if (gateway === undefined) return; // never registered: the upgrade needs a route
    this.parts.store
      .closeSession({ user: session.user, sessionId: session.id }, gateway)
      .catch((err: unknown) =>
        this.parts.logger.warn({ err }, 'could not end a session lease; it will expire'),
      );
  }

  /** SIGTERM: refuse new upgrades, close every session with 1012 so clients reconnect elsewhere. */
  drain(): void {
    this.draining = true;
    for (const session of this.parts.sessions.all())
      session.close(CloseCode.ServiceRestart, CloseReason.Draining);
  }
}
