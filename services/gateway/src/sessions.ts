/**
 * The sessions this gateway holds: lookup by user for live delivery, one shared timer wheel for
 * token expiry and one batched lease renewal, instead of a timer per connection.
 */
import { CloseCode, CloseReason } from '@postbox/protocol';
import type { Logger } from '@postbox/logger';
import type { Session } from './session';
import type { GatewayRoute } from './route';
import type { MailboxStore } from './store/store';

export class SessionRegistry {
  private readonly byUser = new Map<string, Set<Session>>();
  /** Token expiry wheel: second → sessions whose token expires within it. */
  private readonly expiries = new Map<number, Set<Session>>();
  private wheelSecond = Math.floor(Date.now() / 1000);
  private count = 0;

  constructor(
    private readonly store: MailboxStore,
    private readonly route: GatewayRoute,
    private readonly logger: Logger,
  ) {}

  get size(): number {
    return this.count;
  }

  add(session: Session): void {
    let sessions = this.byUser.get(session.user);
    if (sessions === undefined) {
      sessions = new Set();
      this.byUser.set(session.user, sessions);
    }
    sessions.add(session);
    this.count += 1;
    const second = Math.max(Math.floor(session.expiresAt / 1000), this.wheelSecond);
    let due = this.expiries.get(second);
    if (due === undefined) {
      due = new Set();
      this.expiries.set(second, due);
    }
    due.add(session);
  }

  remove(session: Session): void {
    const sessions = this.byUser.get(session.user);
    if (sessions?.delete(session)) {
      this.count -= 1;
      if (sessions.size === 0) this.byUser.delete(session.user);
    }
    // A session sits in its expiry second's bucket, or was moved to the wheel's current or next one.
    for (const second of [Math.floor(session.expiresAt / 1000), this.wheelSecond, this.wheelSecond + 1]) {
      if (this.expiries.get(second)?.delete(session)) break;
    }
  }

  sessionsOf(user: string): ReadonlySet<Session> | undefined {
    return this.byUser.get(user);
  }

  all(): Session[] {
    const out: Session[] = [];
    for (const sessions of this.byUser.values()) out.push(...sessions);
    return out;
  }

  /** Closes sessions whose token expired (1008 token_expired). Call about once a second. */
  expireTokens(now: number): void {
    const nowSecond = Math.floor(now / 1000);
    for (; this.wheelSecond <= nowSecond; this.wheelSecond += 1) {
      const due = this.expiries.get(this.wheelSecond);
      if (due === undefined) continue;
      this.expiries.delete(this.wheelSecond);
      for (const session of due) {
        if (session.expiresAt <= now) session.close(CloseCode.PolicyViolation, CloseReason.TokenExpired);
        else this.expiries.set(nowSecond + 1, (this.expiries.get(nowSecond + 1) ?? new Set()).add(session));
      }
    }
  }

  /** Extends every held session's lease in one batch; a failure is logged, the lease may lapse. */
  async renewLeases(): Promise<void> {
    const refs = this.all().map((session) => ({ user: session.user, sessionId: session.id }));
    const gateway = this.route.ref;
    if (refs.length === 0 || gateway === undefined) return;
    try {
      await this.store.renewSessions(refs, gateway);
    } catch (error) {
      this.logger.warn({ err: error, sessions: refs.length }, 'presence lease renewal failed');
    }
  }
}
