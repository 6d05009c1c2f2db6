/** Reconnect timing: exponential backoff with full jitter, shaped by the server's close code. */
import { CloseCode } from '@postbox/protocol';

export interface BackoffOptions {
  /** First ceiling of the random delay, in ms. */
  baseMs: number;
  /** Largest ceiling, in ms. */
  maxMs: number;
  /** After 1013 (try again later) the delay is at least this long. */
  tryAgainLaterMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 250, maxMs: 30_000, tryAgainLaterMs: 5_000 };

/**
 * Full jitter (a uniformly random delay below the exponential ceiling) spreads out the clients of
 * a gateway that died at once, so they do not reconnect in lockstep.
 */
export function backoffDelay(attempt: number, options: BackoffOptions, random: () => number): number {
  const ceiling = Math.min(options.maxMs, options.baseMs * 2 ** Math.min(attempt, 30));
  return Math.floor(random() * ceiling);
}

/**
 * The delay before reconnect attempt `attempt` (0 for the first after a close):
 * 1012 means the gateway is draining and nginx sends us elsewhere, so come back quickly;
 * 1013 means we read too slowly, so stay away at least `tryAgainLaterMs`.
 */
export function reconnectDelay(
  closeCode: number,
  attempt: number,
  options: BackoffOptions,
  random: () => number,
): number {
  if (closeCode === CloseCode.ServiceRestart && attempt === 0) return Math.floor(random() * options.baseMs);
  const delay = backoffDelay(attempt, options, random);
  if (closeCode === CloseCode.TryAgainLater) return options.tryAgainLaterMs + delay;
  return delay;
}
