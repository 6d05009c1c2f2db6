/** A session's output: queued per turn, written corked in frame order, slow consumers closed. */
import { CloseCode } from '@postbox/protocol';
import type { Connection } from './connection';
import { Outbox } from './outbox';
import { Session } from './session';

/** Records each corked write as one batch, like the one syscall uWS makes of it. */
class FakeSocket implements Connection {
  readonly batches: string[][] = [];
  readonly uncorkedSends: string[] = [];
  readonly ends: number[] = [];
  buffered = 0;
  /** Bytes each send adds to the unread output (a client that stopped reading). */
  growth = 0;
  private corked: string[] | undefined;

  send(text: string): number {
    if (this.ends.length > 0) throw new Error('send after end');
    (this.corked ?? this.uncorkedSends).push(text);
    this.buffered += this.growth;
    return this.buffered > 0 ? 0 : 1;
  }
  getBufferedAmount(): number {
    return this.buffered;
  }
  end(code: number): void {
    if (this.ends.length > 0) throw new Error('end after end');
    (this.corked ?? this.uncorkedSends).push(`close ${code}`);
    this.ends.push(code);
  }
  cork(callback: () => void): void {
    this.corked = [];
    callback();
    this.batches.push(this.corked);
    this.corked = undefined;
  }
}

const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

function setup(maxBufferedBytes = 1 << 20) {
  const outbox = new Outbox((err) => {
    throw err;
  });
  let framesOut = 0;
  const limits = {
    sendsPerSecond: 100,
    sendBurst: 200,
    bytesPerSecond: 1 << 20,
    maxInvalidFrames: 10,
    invalidWindowMs: 10_000,
    maxBufferedBytes,
    countFramesOut: (count: number) => {
      framesOut += count;
    },
    outbox,
  };
  const open = (id: string) => {
    const session = new Session(id, 'bob', Date.now() + 3_600_000, limits, Date.now());
    const socket = new FakeSocket();
    session.attach(socket);
    return { session, socket };
  };
  return { outbox, open, framesOut: () => framesOut };
}

test("a turn's frames go out in one corked write per connection, in order, a later turn's in the next", async () => {
  const { open, framesOut } = setup();
  const a = open('a');
  const b = open('b');
  for (let i = 0; i < 100; i += 1) expect(a.session.write(`a${i}`)).toBe(true);
  b.session.write('b0');
  await Promise.resolve().then(() => b.session.write('b1')); // a promise callback, same turn
  expect(a.socket.batches).toEqual([]); // nothing is written before the turn ends

  await nextTurn();
  expect(a.socket.batches).toEqual([Array.from({ length: 100 }, (_, i) => `a${i}`)]);
  expect(b.socket.batches).toEqual([['b0', 'b1']]);
  expect(a.socket.uncorkedSends).toEqual([]);
  expect(framesOut()).toBe(102);

  b.session.write('b2');
  await nextTurn();
  expect(b.socket.batches).toEqual([['b0', 'b1'], ['b2']]);
});

test('output past 16 KB in one turn is written at once, in order, the rest at the end of the turn', async () => {
  const { open } = setup();
  const { session, socket } = open('a');
  const big = (name: string) => name + 'x'.repeat(9000);
  session.write(big('a'));
  expect(socket.batches).toEqual([]);
  session.write(big('b')); // 18 KB queued: out now, as big frames were before corking
  expect(socket.batches).toEqual([[big('a'), big('b')]]);
  session.write('small');
  await nextTurn();
  expect(socket.batches).toEqual([[big('a'), big('b')], ['small']]);
});

test('a closed session takes no frames, and frames queued before a socket is gone are dropped', async () => {
  const { open } = setup();
  const { session, socket } = open('a');
  session.write('lost');
  session.markClosed(); // the client went away (the transport's close)
  expect(session.write('after')).toBe(false);
  await nextTurn();
  expect(socket.batches).toEqual([]);
  expect(socket.uncorkedSends).toEqual([]);
});

test('close writes the frames queued before it, then the close frame, and nothing after', async () => {
  const { open, framesOut } = setup();
  const { session, socket } = open('a');
  session.write({ type: 'synced' });
  session.write('second');
  session.close(CloseCode.ServiceRestart, 'draining');
  expect(session.write('after')).toBe(false);
  await nextTurn();
  expect(socket.batches).toEqual([['{"type":"synced"}', 'second', `close ${CloseCode.ServiceRestart}`]]);
  expect(framesOut()).toBe(2);
});

test('a client whose unread output passes the limit is closed with 1013 and gets nothing more', async () => {
  const { open, framesOut } = setup(1000);
  const { session, socket } = open('a');
  socket.growth = 400; // it stopped reading
  for (let i = 0; i < 10; i += 1) session.write(`m${i}`);
  await nextTurn();
  // The third frame takes the unread output past 1000 bytes: written, then the close.
  expect(socket.batches).toEqual([['m0', 'm1', 'm2']]);
  expect(socket.uncorkedSends).toEqual([`close ${CloseCode.TryAgainLater}`]);
  expect(session.state).toBe('closed');
  expect(framesOut()).toBe(3);
  expect(session.write('later')).toBe(false);
});

test('queued frames count as backed up, and a wait for drain ends once the flush left uWS nothing to hold', async () => {
  const { open } = setup();
  const { session, socket } = open('a');
  session.write('x'.repeat(600));
  expect(session.isBackedUp(500)).toBe(true);
  expect(session.isBackedUp(700)).toBe(false);
  const drained = session.waitForDrain();
  await nextTurn();
  await drained; // never resolves if the flush forgets it (uWS sends no drain for an empty buffer)
  expect(socket.batches).toHaveLength(1);
  expect(session.isBackedUp(500)).toBe(false);
});

test('a connection that throws while written to is reported and written to no more; others still get theirs', async () => {
  const failures: unknown[] = [];
  const outbox = new Outbox((err) => failures.push(err));
  const broken = {
    flushOutput: () => {
      throw new Error('Invalid access of closed uWS.WebSocket');
    },
    markClosed: jest.fn(),
  };
  const fine = { flushOutput: jest.fn(), markClosed: jest.fn() };
  outbox.schedule(broken);
  outbox.schedule(fine);
  await nextTurn();
  expect(failures).toHaveLength(1);
  expect(broken.markClosed).toHaveBeenCalledTimes(1);
  expect(fine.flushOutput).toHaveBeenCalledTimes(1);
});
