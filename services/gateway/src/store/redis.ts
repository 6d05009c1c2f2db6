/**
 * MailboxStore on Redis (the product). Every per-user key carries the user in a hash tag,
 * `${prefix}:{u:${user}}:…`, so each per-user script touches one Cluster slot (accept with a cid
 * is the one exception: see accept.lua). Key layout:
 *   …:mbox      ZSET score = seq, member = message id
 *   …:msgs      HASH id -> StoredMessage JSON
 *   …:seq       STRING counter, never expires
 *   …:sessions  ZSET member = `${route}|${gatewayId}|${sessionId}`, score = lease expiry (Redis server ms)
 *   ${prefix}:{routes}  HASH route -> `${gatewayId}|${lease expiry}` (claim-route.lua)
 *   …:idem:cid  STRING {id, ts, status} JSON, EX idempotencyTtlSeconds (in the SENDER's slot)
 *
 * Errors (Redis down, script errors, malformed replies) reject: the gateway answers `unavailable`.
 * The caller owns the ioredis client (created with enableAutoPipelining: true, so the many
 * concurrent script calls of renewSessions/presence share round trips) and closes it.
 */
import type { Redis } from 'ioredis';
import { defineScripts } from './redis-scripts';
import {
  parseAcceptReply,
  parseCount,
  parseMessage,
  parseMessages,
  parseOpenSessionReply,
  parseRouteClaim,
} from './redis-replies';
import type {
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

export interface RedisStoreOptions {
  /** Prefix of every key, e.g. `pb`. Must not contain `{` or `}`: it would steal the hash tag. */
  keyPrefix: string;
  limits: StoreLimits;
}

const PING_TIMEOUT_MS = 1000;

export class RedisStore implements MailboxStore {
  private readonly prefix: string;
  private readonly limits: StoreLimits;

  constructor(
    private readonly redis: Redis,
    options: RedisStoreOptions,
  ) {
    if (options.keyPrefix === '' || /[{}]/.test(options.keyPrefix)) {
      throw new Error(
        `RedisStore: keyPrefix must be non-empty and free of braces, got "${options.keyPrefix}"`,
      );
    }
    assertLimits(options.limits);
    this.prefix = options.keyPrefix;
    this.limits = options.limits;
    defineScripts(redis);
  }

  async accept(request: AcceptRequest): Promise<AcceptResult> {
    const { id, from, to, body, ts, cid } = request;
    const message: Omit<StoredMessage, 'seq'> = { id, from, to, body, ts };
    const recipient = this.userKey(to);
    const reply = await this.redis.postboxAccept(
      // Without a cid the script never touches KEYS[1]; the placeholder keeps it in the recipient's slot.
      cid === undefined ? `${recipient}:idem-unused` : this.idemKey(from, cid),
      `${recipient}:mbox`,
      `${recipient}:msgs`,
      `${recipient}:seq`,
      `${recipient}:sessions`,
      cid === undefined ? '0' : '1',
      id,
      String(ts),
      JSON.stringify(message),
      this.limits.mailboxMax,
      this.limits.mailboxRetentionSeconds,
      this.limits.idempotencyTtlSeconds,
      to,
      request.localRoute ?? -1,
    );
    return parseAcceptReply(reply, message);
  }

  async settleStatus(from: string, cid: string, status: 'sent' | 'queued'): Promise<void> {
    await this.redis.postboxSettleStatus(this.idemKey(from, cid), status);
  }

  async readMessage(user: string, id: string): Promise<StoredMessage | undefined> {
    return parseMessage(await this.redis.hget(`${this.userKey(user)}:msgs`, id));
  }

  async readMailbox(user: string, afterSeq: number, limit: number): Promise<StoredMessage[]> {
    if (limit <= 0) return [];
    const key = this.userKey(user);
    const reply = await this.redis.postboxReadMailbox(`${key}:mbox`, `${key}:msgs`, afterSeq, limit);
    return parseMessages(reply);
  }

  async ack(user: string, ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return;
    const key = this.userKey(user);
    await this.redis.postboxAck(`${key}:mbox`, `${key}:msgs`, ...ids);
  }

  async mailboxDepth(user: string): Promise<number> {
    return this.redis.zcard(`${this.userKey(user)}:mbox`);
  }

  async openSession(session: SessionRef, gateway: GatewayRef): Promise<OpenSessionResult> {
    const reply = await this.redis.postboxOpenSession(
      this.sessionsKey(session.user),
      `${this.userKey(session.user)}:seq`,
      sessionMember(session, gateway),
      this.limits.presenceLeaseMs,
      this.limits.maxConnectionsPerUser,
    );
    const seq = parseOpenSessionReply(reply);
    return seq < 0 ? { kind: 'too_many_connections' } : { kind: 'opened', seq };
  }

  /**
   * One script call per session, all issued in the same tick: auto-pipelining sends them as one
   * batch, so 10,000 sessions cost one write and a few ms of Redis time, not 10,000 round trips.
   */
  async renewSessions(sessions: readonly SessionRef[], gateway: GatewayRef): Promise<void> {
    const lease = this.limits.presenceLeaseMs;
    await Promise.all(
      sessions.map((session) =>
        this.redis.postboxRenewSession(
          this.sessionsKey(session.user),
          sessionMember(session, gateway),
          lease,
        ),
      ),
    );
  }

  async closeSession(session: SessionRef, gateway: GatewayRef): Promise<void> {
    await this.redis.zrem(this.sessionsKey(session.user), sessionMember(session, gateway));
  }

  async claimRoute(gatewayId: string, routes: number, leaseMs: number, current = -1): Promise<RouteClaim> {
    const reply = await this.redis.postboxClaimRoute(
      `${this.prefix}:{routes}`,
      gatewayId,
      routes,
      leaseMs,
      current,
    );
    return parseRouteClaim(reply);
  }

  async presence(users: readonly string[]): Promise<Map<string, boolean>> {
    const unique = [...new Set(users)];
    const counts = await Promise.all(
      unique.map(async (user) => parseCount(await this.redis.postboxPresence(this.sessionsKey(user)))),
    );
    return new Map(unique.map((user, i) => [user, (counts[i] ?? 0) > 0]));
  }

  /** Never throws: false on error or when no PONG arrives within PING_TIMEOUT_MS (offline queue). */
  async ping(): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), PING_TIMEOUT_MS);
      timer.unref();
    });
    const pong = this.redis.ping().then(
      (reply) => reply === 'PONG',
      () => false,
    );
    try {
      return await Promise.race([pong, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** The caller created the client and may share it: closing it is the caller's job. */
  async close(): Promise<void> {}

  private userKey(user: string): string {
    return `${this.prefix}:{u:${user}}`;
  }

  private sessionsKey(user: string): string {
    return `${this.userKey(user)}:sessions`;
  }

  private idemKey(sender: string, cid: string): string {
    return `${this.userKey(sender)}:idem:${cid}`;
  }
}

/** accept.lua reads the route back from the member's first field. */
function sessionMember(session: SessionRef, gateway: GatewayRef): string {
  return `${gateway.route}|${gateway.id}|${session.sessionId}`;
}

/** EXPIRE 0 deletes a key and a zero lease is instant offline: refuse such limits at startup. */
function assertLimits(limits: StoreLimits): void {
  for (const [name, value] of Object.entries(limits)) {
    if (!Number.isSafeInteger(value) || value <= 0) {
      throw new Error(`RedisStore: limits.${name} must be a positive integer, got ${String(value)}`);
    }
  }
}
