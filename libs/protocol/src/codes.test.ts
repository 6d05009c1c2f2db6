import {
  CLOSE_CODES,
  CloseCode,
  Defaults,
  ERROR_CODES,
  ErrorCode,
  RETRYABLE_ERRORS,
  UpgradeError,
} from './codes';

/**
 * docs/protocol.md v1 restated: changing any of these is a protocol change, so the test fails
 * until the spec and this list are updated together.
 */
describe('the contract tables match docs/protocol.md v1', () => {
  it('has exactly the 7 error codes of the spec', () => {
    expect([...ERROR_CODES].sort()).toEqual(
      [
        'internal',
        'invalid_frame',
        'invalid_json',
        'mailbox_full',
        'rate_limited',
        'too_large',
        'unavailable',
      ].sort(),
    );
    expect(new Set(ERROR_CODES).size).toBe(7);
  });

  it('marks rate_limited, unavailable and internal as retryable, and only those', () => {
    expect([...RETRYABLE_ERRORS].sort()).toEqual(
      [ErrorCode.Internal, ErrorCode.RateLimited, ErrorCode.Unavailable].sort(),
    );
  });

  it('has exactly the close codes 1000, 1008, 1009, 1011, 1012, 1013', () => {
    expect([...CLOSE_CODES].sort((a, b) => a - b)).toEqual([1000, 1008, 1009, 1011, 1012, 1013]);
    expect(CloseCode.PolicyViolation).toBe(1008);
    expect(CloseCode.MessageTooBig).toBe(1009);
    expect(CloseCode.ServiceRestart).toBe(1012);
    expect(CloseCode.TryAgainLater).toBe(1013);
  });

  it('refuses upgrades with the statuses of the spec', () => {
    expect(UpgradeError).toEqual({
      Unauthorized: { status: 401, error: 'unauthorized' },
      Forbidden: { status: 403, error: 'forbidden' },
      TooManyConnections: { status: 429, error: 'too_many_connections' },
      Unavailable: { status: 503, error: 'unavailable' },
    });
  });

  it('has the default limits of the spec', () => {
    expect(Defaults.maxBytes).toBe(65_536);
    expect(Defaults.maxFrameBytes).toBe(262_144);
    expect(Defaults.maxFrameBytes).toBeGreaterThanOrEqual(4 * Defaults.maxBytes);
    expect(Defaults.sendsPerSecond).toBe(100);
    expect(Defaults.sendBurst).toBe(200);
    expect(Defaults.bytesPerSecond).toBe(1024 * 1024);
    expect(Defaults.invalidFramesPerWindow).toBe(10);
    expect(Defaults.invalidFrameWindowMs).toBe(10_000);
    expect(Defaults.connectionsPerUser).toBe(10);
    expect(Defaults.maxAckIds).toBe(1_000);
    expect(Defaults.maxPresenceUsers).toBe(100);
    expect(Defaults.idempotencyTtlSeconds).toBe(24 * 3600);
    expect(Defaults.presenceLeaseMs).toBeLessThanOrEqual(30_000);
    expect(Defaults.clockLeewaySeconds).toBeLessThanOrEqual(5);
  });
});
