/**
 * Monotonic ULIDs: 48 bits of milliseconds then 80 random bits, Crockford base32. Within one
 * millisecond (or if the clock steps back) the random part is incremented, so ids made by one
 * gateway strictly increase as plain strings (docs/protocol.md).
 */
import { randomBytes } from 'node:crypto';

const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

export class MonotonicUlid {
  private lastTime = -1;
  private readonly random = new Uint8Array(16); // 16 base32 digits of 5 bits = 80 bits

  next(now: number): { id: string; ts: number } {
    if (now > this.lastTime) {
      this.lastTime = now;
      const bytes = randomBytes(16);
      for (let i = 0; i < 16; i += 1) this.random[i] = (bytes[i] ?? 0) & 31;
      // Keep headroom so increments within one millisecond never overflow.
      this.random[0] = (this.random[0] ?? 0) & 15;
    } else {
      this.increment();
    }
    return { id: encodeTime(this.lastTime) + encodeDigits(this.random), ts: this.lastTime };
  }

  private increment(): void {
    for (let i = 15; i >= 0; i -= 1) {
      const digit = (this.random[i] ?? 0) + 1;
      if (digit < 32) {
        this.random[i] = digit;
        return;
      }
      this.random[i] = 0;
    }
    this.lastTime += 1; // 2^79 ids in one millisecond: borrow the next one rather than repeat.
  }
}

function encodeTime(ms: number): string {
  let out = '';
  let rest = ms;
  for (let i = 0; i < 10; i += 1) {
    out = ALPHABET.charAt(rest % 32) + out;
    rest = Math.floor(rest / 32);
  }
  return out;
}

function encodeDigits(digits: Uint8Array): string {
  let out = '';
  for (const digit of digits) out += ALPHABET.charAt(digit);
  return out;
}
