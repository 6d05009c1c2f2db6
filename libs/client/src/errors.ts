/** The one error type the SDK rejects with and emits: a protocol code or a client-side one. */
import type { ErrorCode } from '@postbox/protocol';

/**
 * Client-side codes, beside the protocol's `ErrorCode`s:
 * - `timeout`: no answer within the configured time (the send may still have been stored);
 * - `closed`: `close()` was called while the request was pending;
 * - `unauthorized` / `forbidden`: the upgrade was refused with 401 / 403 (fatal, no reconnect);
 * - `unreachable`: every attempt failed before any `welcome` (fatal after `maxAttemptsBeforeWelcome`);
 * - `handler_failed`: an `onMessage` handler threw (the message is not acknowledged);
 * - `protocol`: the server sent a frame outside the protocol.
 */
export type ClientErrorCode =
  | 'timeout'
  | 'closed'
  | 'unauthorized'
  | 'forbidden'
  | 'unreachable'
  | 'handler_failed'
  | 'protocol';
export type PostboxErrorCode = ErrorCode | ClientErrorCode;

export class PostboxError extends Error {
  override readonly name = 'PostboxError';

  constructor(
    readonly code: PostboxErrorCode,
    message: string,
    /** HTTP status of a refused upgrade, when the transport can see it (Node, not browsers). */
    readonly status?: number,
  ) {
    super(message);
  }
}
