/** Options of `connect()`, with their defaults. */
import { Defaults } from '@postbox/protocol';
import { DEFAULT_BACKOFF, type BackoffOptions } from './backoff';
import type { SocketFactory } from './socket';

/** A token, or a function called before every connection attempt (to refresh an expiring one). */
export type TokenSource = string | (() => Promise<string>);

export interface ConnectOptions {
  /** Reconnect backoff: `baseMs` (250), `maxMs` (30,000), `tryAgainLaterMs` after a 1013 (5,000). */
  backoff?: Partial<BackoffOptions>;
  /** How long `send()` waits for `accepted`, re-sends and reconnects included (30,000 ms). */
  sendTimeoutMs?: number;
  /** Re-sends after `rate_limited`, `unavailable` or `internal` before rejecting (5). */
  maxSendRetries?: number;
  /** How long `presence()` waits for its answer (10,000 ms). */
  presenceTimeoutMs?: number;
  /** Acknowledge only through `ack(ids)`, not automatically after the handlers return (false). */
  manualAck?: boolean;
  /** Acks are batched for this long, or until 1,000 ids are queued (10 ms). */
  ackDelayMs?: number;
  /**
   * How long `close()` waits for the message handlers to finish what was received, so their
   * acks go out before the connection closes (5,000 ms).
   */
  closeTimeoutMs?: number;
  /** How many recent message ids are remembered to drop redeliveries (10,000). */
  dedupeCapacity?: number;
  /**
   * Give up (`unreachable`) after this many failed attempts when no connection has ever been
   * welcomed (10). Browsers cannot see a 401, so this is what stops a client with a bad token there.
   */
  maxAttemptsBeforeWelcome?: number;
  /** Transport override (tests, custom sockets); the default picks the platform's WebSocket or `ws`. */
  socket?: SocketFactory;
  /** Random source in [0, 1) for jitter (tests). */
  random?: () => number;
}

export type ResolvedOptions = Required<Omit<ConnectOptions, 'socket' | 'backoff'>> & {
  backoff: BackoffOptions;
  socket: SocketFactory | undefined;
};

export function resolveOptions(options: ConnectOptions): ResolvedOptions {
  return {
    backoff: { ...DEFAULT_BACKOFF, ...options.backoff },
    sendTimeoutMs: options.sendTimeoutMs ?? 30_000,
    maxSendRetries: options.maxSendRetries ?? 5,
    presenceTimeoutMs: options.presenceTimeoutMs ?? 10_000,
    manualAck: options.manualAck ?? false,
    ackDelayMs: options.ackDelayMs ?? 10,
    closeTimeoutMs: options.closeTimeoutMs ?? 5_000,
    dedupeCapacity: options.dedupeCapacity ?? 10_000,
    maxAttemptsBeforeWelcome: options.maxAttemptsBeforeWelcome ?? 10,
    socket: options.socket,
    random: options.random ?? Math.random,
  };
}

/** Used for local checks of `send()` until the server's `welcome` states its own limit. */
export const DEFAULT_MAX_BYTES = Defaults.maxBytes;
