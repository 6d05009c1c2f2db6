/**
 * Gateway-wide admission of sends (docs/protocol.md, Overload). A send is in flight from the
 * moment the router starts its work until its answer is ready (stored in Redis, published to the
 * bus). A new send is refused at once, before it touches Redis, when either
 * - `maxInflight` sends are already in flight: bounded memory, and a bound on the Redis and
 *   publish queues everything else (acks, settles, gap repairs, pings) waits behind; or
 * - the oldest send in flight has waited longer than `targetMs`, with at least a tenth of
 *   `maxInflight` in flight: the gateway is behind (a slow Redis, a stalled bus and a busy event
 *   loop all show up here). New sends are refused until that work is answered; the queue then
 *   holds at most about `targetMs` of work, so admitted sends keep their latency and nothing
 *   waits for ioredis' command timeout.
 * Like CoDel, it judges the time work has been waiting rather than a queue length alone, so the
 * same setting fits a fast and a slow Redis. No timers: a few numbers read on each send.
 *
 * Start times sit in a ring in start order. Answers come back almost in start order (one Redis
 * connection, one publish in flight at a time), so the oldest unanswered send is found by
 * stepping past answered slots from the ring's head.
 */
export interface AdmissionSettings {
  /** Sends in flight at most (MAX_INFLIGHT_SENDS). */
  maxInflight: number;
  /** The oldest send in flight waiting longer than this means the gateway is behind (OVERLOAD_TARGET_MS). */
  targetMs: number;
}

/**
 * The age rule applies from this share of `maxInflight` in flight: a few slow sends are a slow
 * dependency (a publish waiting for a new topic's leader), not a backlog, and refusing others
 * would not answer them sooner. CoDel likewise never drops with less than one packet queued.
 */
const BACKLOG_SHARE = 0.1;

/** Why a send was refused; negative, so that a ticket (zero or more) can never be taken for one. */
export const Refusal = {
  /** `maxInflight` sends in flight. */
  InFlight: -1,
  /** The oldest send in flight is older than `targetMs`, with a backlog behind it. */
  Behind: -2,
} as const;
export type Refusal = (typeof Refusal)[keyof typeof Refusal];

export class Admission {
  private readonly startedAt: Float64Array;
  private readonly answered: Uint8Array;
  /** Ticket of the oldest unanswered send; equals `next` when none is in flight. */
  private head = 0;
  private next = 0;
  private inflight = 0;
  private readonly minBacklog: number;

  constructor(
    private readonly settings: AdmissionSettings,
    /** Milliseconds, monotonic. */
    private readonly clock: () => number = () => performance.now(),
  ) {
    // Room for answers out of start order; a ring this full means the head is stuck, and the
    // age rule refuses then anyway.
    const capacity = 2 * settings.maxInflight;
    this.minBacklog = Math.max(1, Math.ceil(settings.maxInflight * BACKLOG_SHARE));
    this.startedAt = new Float64Array(capacity);
    this.answered = new Uint8Array(capacity);
  }

  /** Sends started and not yet answered. */
  get inFlight(): number {
    return this.inflight;
  }

  /** What refused sends are told to wait before retrying: about the time the backlog takes to clear. */
  get retryAfterMs(): number {
    return this.settings.targetMs;
  }

  /** A ticket (≥ 0) for a send that may start now, to hand back to `finish`; else why not. */
  admit(): number | Refusal {
    if (this.inflight >= this.settings.maxInflight) return Refusal.InFlight;
    const capacity = this.startedAt.length;
    const now = this.clock();
    if (this.head < this.next) {
      const oldest = this.startedAt[this.head % capacity] ?? now;
      if (this.inflight >= this.minBacklog && now - oldest > this.settings.targetMs) return Refusal.Behind;
      if (this.next - this.head >= capacity) return Refusal.InFlight;
    }
    const ticket = this.next;
    this.next += 1;
    this.startedAt[ticket % capacity] = now;
    this.inflight += 1;
    return ticket;
  }

  /** The send of this ticket is answered (whatever the answer). A second call is ignored. */
  finish(ticket: number): void {
    const capacity = this.answered.length;
    if (ticket < this.head || ticket >= this.next || this.answered[ticket % capacity] === 1) return;
    this.answered[ticket % capacity] = 1;
    this.inflight -= 1;
    while (this.head < this.next && this.answered[this.head % capacity] === 1) {
      this.answered[this.head % capacity] = 0;
      this.head += 1;
    }
  }
}
