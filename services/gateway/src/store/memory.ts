/**
 * MailboxStore in process memory: embedded mode and unit tests. Nothing is durable and nothing is
 * shared between processes; the semantics otherwise match RedisStore (same contract suite).
 * Differences, on purpose: mailbox retention is ignored (messages wait until acked, so a
 * long-running embedded gateway grows with its unread mail); all times come from `now`.
 */
import type {
  IdempotentStatus,
  AcceptRequest,
  AcceptResult,
  GatewayRef,
  MailboxStore,
  OpenSessionResult,
  RouteClaim,
  SessionRef,
  StoreLimits,
  StoredMessage,
} from './store';

export interface MemoryStoreOptions {
  limits: StoreLimits;
  /** Clock for leases and idempotency TTLs, ms. Injectable so tests can move time. */
  now?: () => number;
}

interface IdempotencyRecord {
  id: string;
  ts: number;
  to: string;
  status: IdempotentStatus;
  expiresAt: number;
}

export class MemoryStore implements MailboxStore {
  private readonly limits: StoreLimits;
  private readonly now: () => number;
  /** Per user, insertion order = seq order: appends only, and deletes keep the order of the rest. */
  private readonly mailboxes = new Map<string, Map<string, StoredMessage>>();
  /** Never reset, like the Redis counter: seq stays monotonic across an emptied mailbox. */
  private readonly seqs = new Map<string, number>();
  /** Keyed by sender and cid; insertion order = expiry order, as every record has the same TTL. */
  private readonly idempotency = new Map<string, IdempotencyRecord>();
  /** user -> (route|gatewayId|sessionId -> lease expiry). */
  private readonly sessions = new Map<string, Map<string, number>>();
  /** route -> its gateway and lease expiry (claimRoute). */
  private readonly routes = new Map<number, { gatewayId: string; expiresAt: number }>();

  constructor(options: MemoryStoreOptions) {
    this.limits = options.limits;
    this.now = options.now ?? Date.now;
  }

  async accept(request: AcceptRequest): Promise<AcceptResult> {
    const { id, from, to, body, ts, cid } = request;
    const now = this.now();
    this.forgetExpiredIdempotency(now);
    const idemKey = cid === undefined ? undefined : idempotencyKey(from, cid);
    const previous = idemKey === undefined ? undefined : this.idempotency.get(idemKey);
    if (previous !== undefined && previous.expiresAt > now) {
      return {
        kind: 'duplicate',
        id: previous.id,
        ts: previous.ts,
        to: previous.to,
        status: previous.status,
      };
    }
    const mailbox = this.mailbox(to);
    if (mailbox.size >= this.limits.mailboxMax) return { kind: 'mailbox_full' };

    const seq = (this.seqs.get(to) ?? 0) + 1;
    this.seqs.set(to, seq);
    const message: StoredMessage = { id, from, to, body, ts, seq };
    mailbox.delete(id);
    mailbox.set(id, message);
    const routes = this.liveRoutes(to, now);
    const online = routes.length > 0;
    if (idemKey !== undefined) {
      // delete first so the record moves to the end and the expiry order holds.
      this.idempotency.delete(idemKey);
      const expiresAt = now + this.limits.idempotencyTtlSeconds * 1000;
      const allLocal = online && routes.every((route) => route === request.localRoute);
      const status = allLocal ? 'sent' : online ? 'pending' : 'queued';
      this.idempotency.set(idemKey, { id, ts, to, status, expiresAt });
    }
    return { kind: 'stored', message: { ...message }, online, routes };
  }

  async settleStatus(from: string, cid: string, status: 'sent' | 'queued'): Promise<void> {
    const record = this.idempotency.get(idempotencyKey(from, cid));
    if (record !== undefined && record.expiresAt > this.now()) record.status = status;
  }

  async readMessage(user: string, id: string): Promise<StoredMessage | undefined> {
    const message = this.mailboxes.get(user)?.get(id);
    return message === undefined ? undefined : { ...message };
  }

  /** A linear walk from the oldest: fine for embedded mailboxes, not for 10^6 messages. */
  async readMailbox(user: string, afterSeq: number, limit: number): Promise<StoredMessage[]> {
    const page: StoredMessage[] = [];
    if (limit <= 0) return page;
    for (const message of this.mailboxes.get(user)?.values() ?? []) {
      if (message.seq <= afterSeq) continue;
      page.push({ ...message });
      if (page.length >= limit) break;
    }
    return page;
  }

  async ack(user: string, ids: readonly string[]): Promise<void> {
    const mailbox = this.mailboxes.get(user);
    if (mailbox === undefined) return;
    for (const id of ids) mailbox.delete(id);
    if (mailbox.size === 0) this.mailboxes.delete(user);
  }

  async mailboxDepth(user: string): Promise<number> {
    return this.mailboxes.get(user)?.size ?? 0;
  }

  async openSession(session: SessionRef, gateway: GatewayRef): Promise<OpenSessionResult> {
    const now = this.now();
    const leases = this.leases(session.user);
    for (const [member, expiresAt] of leases) {
      if (expiresAt <= now) leases.delete(member);
    }
    const member = sessionMember(session, gateway);
    if (!leases.has(member) && leases.size >= this.limits.maxConnectionsPerUser) {
      return { kind: 'too_many_connections' };
    }
    leases.set(member, now + this.limits.presenceLeaseMs);
    return { kind: 'opened', seq: this.seqs.get(session.user) ?? 0 };
  }

  /** Like renew-session.lua: a held session whose lease lapsed is restored. */
  async renewSessions(sessions: readonly SessionRef[], gateway: GatewayRef): Promise<void> {
    const expiresAt = this.now() + this.limits.presenceLeaseMs;
    for (const session of sessions) this.leases(session.user).set(sessionMember(session, gateway), expiresAt);
  }

  async closeSession(session: SessionRef, gateway: GatewayRef): Promise<void> {
    const leases = this.sessions.get(session.user);
    if (leases === undefined) return;
    leases.delete(sessionMember(session, gateway));
    if (leases.size === 0) this.sessions.delete(session.user);
  }

  /** Like claim-route.lua. */
  async claimRoute(gatewayId: string, routes: number, leaseMs: number, current = -1): Promise<RouteClaim> {
    const now = this.now();
    const holder = (route: number): string | undefined => {
      const claim = this.routes.get(route);
      return claim !== undefined && claim.expiresAt > now ? claim.gatewayId : undefined;
    };
    const take = (route: number): RouteClaim => {
      this.routes.set(route, { gatewayId, expiresAt: now + leaseMs });
      return { route, exclusive: true };
    };
    if (current >= 0) {
      const owner = holder(current);
      return owner === undefined || owner === gatewayId
        ? take(current)
        : { route: current, exclusive: false };
    }
    for (let route = 0; route < routes; route += 1) {
      const owner = holder(route);
      if (owner === undefined || owner === gatewayId) return take(route);
    }
    let hash = 0;
    for (let i = 0; i < gatewayId.length; i += 1) hash = (hash * 31 + gatewayId.charCodeAt(i)) % 2147483647;
    return { route: hash % routes, exclusive: false };
  }

  async presence(users: readonly string[]): Promise<Map<string, boolean>> {
    const now = this.now();
    return new Map(users.map((user) => [user, this.onlineCount(user, now) > 0]));
  }

  async ping(): Promise<boolean> {
    return true;
  }

  async close(): Promise<void> {}

  private mailbox(user: string): Map<string, StoredMessage> {
    let mailbox = this.mailboxes.get(user);
    if (mailbox === undefined) {
      mailbox = new Map();
      this.mailboxes.set(user, mailbox);
    }
    return mailbox;
  }

  private leases(user: string): Map<string, number> {
    let leases = this.sessions.get(user);
    if (leases === undefined) {
      leases = new Map();
      this.sessions.set(user, leases);
    }
    return leases;
  }

  private onlineCount(user: string, now: number): number {
    let count = 0;
    for (const expiresAt of this.sessions.get(user)?.values() ?? []) {
      if (expiresAt > now) count += 1;
    }
    return count;
  }

  private liveRoutes(user: string, now: number): number[] {
    const routes = new Set<number>();
    for (const [member, expiresAt] of this.sessions.get(user) ?? []) {
      if (expiresAt > now) routes.add(Number(member.slice(0, member.indexOf('|'))));
    }
    return [...routes];
  }

  /** Amortised O(1): records expire in insertion order, so stop at the first live one. */
  private forgetExpiredIdempotency(now: number): void {
    for (const [key, record] of this.idempotency) {
      if (record.expiresAt > now) return;
      this.idempotency.delete(key);
    }
  }
}

function idempotencyKey(sender: string, cid: string): string {
  return `${sender}\u0000${cid}`;
}

function sessionMember(session: SessionRef, gateway: GatewayRef): string {
  return `${gateway.route}|${gateway.id}|${session.sessionId}`;
}
