/** The contract's tables: error codes, close codes and default limits (docs/protocol.md). */

export const ErrorCode = {
  InvalidJson: 'invalid_json',
  InvalidFrame: 'invalid_frame',
  TooLarge: 'too_large',
  RateLimited: 'rate_limited',
  MailboxFull: 'mailbox_full',
  Unavailable: 'unavailable',
  Internal: 'internal',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];
export const ERROR_CODES: readonly ErrorCode[] = Object.values(ErrorCode);

/** Errors worth retrying with backoff; the send was not stored. */
export const RETRYABLE_ERRORS: ReadonlySet<ErrorCode> = new Set([
  ErrorCode.RateLimited,
  ErrorCode.Unavailable,
  ErrorCode.Internal,
]);

export const CloseCode = {
  Normal: 1000,
  PolicyViolation: 1008,
  MessageTooBig: 1009,
  InternalError: 1011,
  ServiceRestart: 1012,
  TryAgainLater: 1013,
} as const;
export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];
export const CLOSE_CODES: readonly CloseCode[] = Object.values(CloseCode);

/** Close reasons the server sends with its close codes. */
export const CloseReason = {
  TokenExpired: 'token_expired',
  InvalidFrames: 'invalid_frames',
  FrameTooLarge: 'frame_too_large',
  Draining: 'draining',
  SlowConsumer: 'slow_consumer',
  Internal: 'internal',
} as const;

/** HTTP refusals of the upgrade: status and JSON `error` value. */
export const UpgradeError = {
  Unauthorized: { status: 401, error: 'unauthorized' },
  Forbidden: { status: 403, error: 'forbidden' },
  TooManyConnections: { status: 429, error: 'too_many_connections' },
  Unavailable: { status: 503, error: 'unavailable' },
} as const;
export type UpgradeError = (typeof UpgradeError)[keyof typeof UpgradeError];

export const Defaults = {
  maxBytes: 65_536,
  maxFrameBytes: 262_144,
  sendsPerSecond: 100,
  sendBurst: 200,
  bytesPerSecond: 1_048_576,
  invalidFramesPerWindow: 10,
  invalidFrameWindowMs: 10_000,
  connectionsPerUser: 10,
  maxAckIds: 1_000,
  maxPresenceUsers: 100,
  idempotencyTtlSeconds: 24 * 3600,
  presenceLeaseMs: 30_000,
  clockLeewaySeconds: 5,
} as const;
