/** Fixtures for the gateway's unit tests: a memory store, and a live session whose frames are recorded. */
import type { ServerFrame } from '@postbox/protocol';
import { Outbox } from './outbox';
import { Session } from './session';
import { MemoryStore } from './store/memory';

export function memoryStore(): MemoryStore {
  return new MemoryStore({
    limits: {
      mailboxMax: 1000,
      mailboxRetentionSeconds: 3600,
      idempotencyTtlSeconds: 3600,
      presenceLeaseMs: 60_000,
      maxConnectionsPerUser: 10,
    },
  });
}

/**
 * A session past its mailbox sync, on a fake connection that records what it is sent. Frames are
 * recorded when its outbox flushes (the next turn, or `flush()`).
 */
export function liveSession(user: string): {
  session: Session;
  frames: ServerFrame[];
  closes: number[];
  flush(): void;
} {
  const frames: ServerFrame[] = [];
  const closes: number[] = [];
  const outbox = new Outbox((err) => {
    throw err;
  });
  const limits = {
    sendsPerSecond: 100,
    sendBurst: 200,
    bytesPerSecond: 1 << 20,
    maxInvalidFrames: 10,
    invalidWindowMs: 10_000,
    maxBufferedBytes: 1 << 20,
    countFramesOut: () => undefined,
    outbox,
  };
  const session = new Session(`s-${user}`, user, Date.now() + 3_600_000, limits, Date.now());
  session.attach({
    send: (text) => {
      frames.push(JSON.parse(text) as ServerFrame);
      return 1;
    },
    getBufferedAmount: () => 0,
    end: (code) => closes.push(code),
    cork: (callback) => callback(),
  });
  session.state = 'live';
  return { session, frames, closes, flush: () => outbox.flush() };
}
