/**
 * The gateway's durable state, behind one narrow port: mailboxes (accepted, unacknowledged
 * messages per recipient), idempotency records and presence leases. Two implementations:
 * Redis (store/redis.ts, the product) and memory (store/memory.ts, embedded mode and unit tests),
 * both held to one contract suite (store/store.contract.ts).
 */

/** A message as stored in the recipient's mailbox and carried on the bus. */
export interface StoredMessage {
  id: string;
  from: string;
  to: string;
  body: string;
  ts: number;
  /** The recipient's sequence number: strictly increasing per recipient, assigned at accept. */
  seq: number;
}

export interface AcceptRequest {
  id: string;
  from: string;
  to: string;
  body: string;
  ts: number;
  /** Idempotency key, scoped to the sender, remembered for `idempotencyTtlSeconds`. */
  cid?: string;
  /**
   * The accepting gateway's route when no other gateway shares it. A recipient whose live
   * sessions all sit on that route is delivered in process, with nothing left to publish, so the
   * cid is remembered as `sent` at once (no settle).
   */
  localRoute?: number;
}

/**
 * What a cid's record says of the first send. `pending`: the recipient was online and the first
 * send's publish has not been settled (still in flight, or its gateway died before publishing);
 * a repeat then publishes the message itself, so a retry after a gateway crash still reaches an
 * online recipient live.
 */
export type IdempotentStatus = 'pending' | 'sent' | 'queued';

export type AcceptResult =
  /**
   * Stored. `online` tells whether the recipient held a live session lease at that instant, and
   * `routes` which gateway routes (bus partitions) those sessions are reached through, each once.
   */
  | { kind: 'stored'; message: StoredMessage; online: boolean; routes: number[] }
  /** The sender used this cid before: the first send's answer, nothing stored again. */
  | { kind: 'duplicate'; id: string; ts: number; to: string; status: IdempotentStatus }
  | { kind: 'mailbox_full' };

export type OpenSessionResult =
  /**
   * `seq`: the user's sequence number when the lease was registered. Every later message is
   * published live; every earlier one is in the mailbox or was acknowledged.
   */
  { kind: 'opened'; seq: number } | { kind: 'too_many_connections' };

/**
 * A gateway as sessions are registered under it: its id and its route, the bus partition it
 * consumes (see `claimRoute`). Live messages for a session go to its gateway's route only.
 */
export interface GatewayRef {
  id: string;
  route: number;
}

/** A gateway's claim on a route: `exclusive` when no other live gateway holds the same one. */
export interface RouteClaim {
  route: number;
  exclusive: boolean;
}

export interface SessionRef {
  user: string;
  sessionId: string;
}

export interface StoreLimits {
  mailboxMax: number;
  mailboxRetentionSeconds: number;
  idempotencyTtlSeconds: number;
  presenceLeaseMs: number;
  maxConnectionsPerUser: number;
}

export interface MailboxStore {
  /** Atomically: idempotency check, next sequence number, append to mailbox, presence check. */
  accept(request: AcceptRequest): Promise<AcceptResult>;
  /**
   * Settles the status remembered for a cid once the publish is decided (`pending` becomes `sent`
   * or `queued`), so that repeats answer what the first send answered.
   */
  settleStatus(from: string, cid: string, status: 'sent' | 'queued'): Promise<void>;
  /** One message still in the user's mailbox (not acknowledged), by id. */
  readMessage(user: string, id: string): Promise<StoredMessage | undefined>;
  /** Up to `limit` messages with seq above `afterSeq`, oldest first. */
  readMailbox(user: string, afterSeq: number, limit: number): Promise<StoredMessage[]>;
  /** Removes these ids from the user's own mailbox; unknown ids are ignored. Cost per id is O(log n). */
  ack(user: string, ids: readonly string[]): Promise<void>;
  /** Number of messages waiting in the user's mailbox. */
  mailboxDepth(user: string): Promise<number>;

  /** Registers a session with a fresh lease, unless the user already holds the maximum. */
  openSession(session: SessionRef, gateway: GatewayRef): Promise<OpenSessionResult>;
  /** Extends the leases of many sessions in one round trip. */
  renewSessions(sessions: readonly SessionRef[], gateway: GatewayRef): Promise<void>;
  closeSession(session: SessionRef, gateway: GatewayRef): Promise<void>;
  /**
   * Claims (or renews, with `current`) a route in [0, routes) for this gateway, with a lease of
   * `leaseMs`: a free or expired one when there is one, else a shared one (`exclusive` false).
   * A renewal keeps `current` even when another gateway took it meanwhile (then not exclusive):
   * a gateway's route never changes while it runs, since its sessions are registered under it.
   */
  claimRoute(gatewayId: string, routes: number, leaseMs: number, current?: number): Promise<RouteClaim>;
  /** Which of these users hold at least one unexpired lease. Duplicates allowed. */
  presence(users: readonly string[]): Promise<Map<string, boolean>>;

  /** Cheap reachability check for /readyz. */
  ping(): Promise<boolean>;
  close(): Promise<void>;
}
