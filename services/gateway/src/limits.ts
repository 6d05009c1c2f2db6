/**
 * Per-connection limits kept as a few numbers on the session (no timers): token buckets for
 * sends and bytes, and a fixed window for invalid frames.
 */
export interface RateSettings {
  sendsPerSecond: number;
  sendBurst: number;
  bytesPerSecond: number;
  maxInvalidFrames: number;
  invalidWindowMs: number;
}

export class SendBudget {
  private sends: number;
  private bytes: number;
  private refilledAt: number;

  constructor(
    private readonly settings: RateSettings,
    now: number,
  ) {
    // A new connection starts with a full burst.
    this.sends = settings.sendBurst;
    this.bytes = settings.bytesPerSecond;
    this.refilledAt = now;
  }

  /** Takes one send of `size` bytes; false when either bucket is empty (nothing is taken then). */
  take(size: number, now: number): boolean {
    const elapsed = Math.max(0, now - this.refilledAt) / 1000;
    this.refilledAt = now;
    const { sendsPerSecond, sendBurst, bytesPerSecond } = this.settings;
    this.sends = Math.min(sendBurst, this.sends + elapsed * sendsPerSecond);
    this.bytes = Math.min(bytesPerSecond, this.bytes + elapsed * bytesPerSecond);
    if (this.sends < 1 || this.bytes < size) return false;
    this.sends -= 1;
    this.bytes -= size;
    return true;
  }

  /**
   * After `take` refused a send of `size` bytes at `now`: milliseconds until both buckets hold
   * enough for it (at least 1); undefined when the bytes bucket can never hold it.
   */
  retryAfterMs(size: number, now: number): number | undefined {
    const { sendsPerSecond, bytesPerSecond } = this.settings;
    if (size > bytesPerSecond) return undefined;
    const elapsed = Math.max(0, now - this.refilledAt) / 1000;
    const sendsShort = 1 - (this.sends + elapsed * sendsPerSecond);
    const bytesShort = size - (this.bytes + elapsed * bytesPerSecond);
    const seconds = Math.max(sendsShort / sendsPerSecond, bytesShort / bytesPerSecond);
    return Math.max(1, Math.ceil(seconds * 1000));
  }
}

export class InvalidFrameWindow {
  private windowStart = 0;
  private count = 0;

  constructor(private readonly settings: RateSettings) {}

  /** Records one invalid frame; true when this one exceeds the allowance (close with 1008). */
  exceeded(now: number): boolean {
    if (now - this.windowStart >= this.settings.invalidWindowMs) {
      this.windowStart = now;
      this.count = 0;
    }
    this.count += 1;
    return this.count > this.settings.maxInvalidFrames;
  }
}
