/**
 * Robustness of the edge under random and malformed frames (fast-check), against a real gateway
 * on real Redis and Kafka: every frame gets exactly its documented answer, in order, and nothing
 * outside the protocol (errors, accepted, presence, pong) — or a documented close (1009 for an
 * oversized frame). Afterwards the gateway still serves. The oracle for each frame is the wire
 * contract's own parser (libs/protocol); the gateway is what is under test.
 */
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { parseClientFrame, parseServerFrame } from '@postbox/protocol';
import { TestClient, type Frame } from '../support/client';
import { isolatedEnv, startGateway, type GatewayProcess } from '../support/gateways';
import { tokenFor } from '../support/tokens';
import { fuzzFrame, nonUtf8Text, type FuzzFrame, MAX_BYTES, MAX_FRAME_BYTES } from '../support/fuzz-frames';

const RUNS = 50;
const BATCH = 200; // RUNS x BATCH = 10,000 frames
const POOL = 4;
let gateway: GatewayProcess;
const pool: (Connection | undefined)[] = [];
let framesSent = 0;
/** Answers seen, by kind (`error:invalid_json`, `accepted`, ...), so the run shows what it exercised. */
const tally = new Map<string, number>();

interface Connection {
  client: TestClient;
  /** Frames of the server that did not parse as protocol frames (must stay empty). */
  alien: string[];
  /** Index in client.frames of the next answer not yet checked. */
  cursor: number;
}

beforeAll(async () => {
  // Limits raised so the fuzz exercises parsing, not the rate limiter or the invalid-frame close.
  gateway = await startGateway({
    env: {
      ...isolatedEnv(),
      RATE_SENDS_PER_SECOND: '1000000',
      RATE_SEND_BURST: '1000000',
      RATE_BYTES_PER_SECOND: '1073741824',
      MAX_INVALID_FRAMES: '1000000',
    },
  });
});

afterAll(async () => {
  await Promise.all(pool.map((connection) => connection?.client.close()));
  await gateway?.stop();
});

async function open(): Promise<Connection> {
  const client = await TestClient.connect(gateway.url, {
    token: await tokenFor(`fuzz-${randomBytes(4).toString('hex')}`),
  });
  const connection: Connection = { client, alien: [], cursor: 0 };
  // Registered first, so a frame outside the protocol is recorded before TestClient throws on it.
  client.ws.prependListener('message', (data, isBinary) => {
    const text = isBinary ? '' : data.toString();
    if (!parseServerFrame(text).ok) connection.alien.push(text.slice(0, 200));
  });
  await client.next('synced');
  connection.cursor = client.frames.length;
  return connection;
}

async function connection(slot: number): Promise<Connection> {
  const current = pool[slot];
  if (current !== undefined && current.client.closed === undefined) return current;
  const fresh = await open();
  pool[slot] = fresh;
  return fresh;
}

/** What the gateway must answer to one frame: a description of the answer, or none (ack). */
function expectedAnswer(frame: FuzzFrame): string | undefined {
  if (frame.binary) return 'error:invalid_frame:';
  const parsed = parseClientFrame(frame.data.toString('utf8'), { maxBytes: MAX_BYTES });
  if (!parsed.ok) return `error:${parsed.error.code}:${parsed.error.cid ?? ''}`;
  const sent = parsed.frame;
  switch (sent.type) {
    case 'send':
      return `accepted::${sent.cid ?? ''}`;
    case 'ack':
      return undefined;
    case 'presence':
      return `presence:${[...new Set(sent.users)].sort().join(',')}:`;
    case 'ping':
      return 'pong::';
  }
}

function describeAnswer(frame: Frame): string {
  switch (frame.type) {
    case 'error':
      return `error:${frame.code}:${frame.cid ?? ''}`;
    case 'accepted':
      return `accepted::${frame.cid ?? ''}`;
    case 'presence':
      return `presence:${Object.keys(frame.users).sort().join(',')}:`;
    default:
      return `${frame.type}::`;
  }
}

/** Answers received on this connection since the last check (welcome, synced, message excluded). */
function answersSince(connection: Connection): string[] {
  return connection.client.frames
    .slice(connection.cursor)
    .filter((frame) => !['welcome', 'synced', 'message'].includes(frame.type))
    .map(describeAnswer);
}

async function runBatch(frames: FuzzFrame[], slot: number): Promise<void> {
  const conn = await connection(slot);
  const { client } = conn;
  const oversized = frames.findIndex((frame) => frame.data.length > MAX_FRAME_BYTES);
  const sending = oversized === -1 ? frames : frames.slice(0, oversized + 1);
  for (const frame of sending) client.sendRaw(frame.data, frame.binary);
  framesSent += sending.length;
  const expected = sending.flatMap((frame) => expectedAnswer(frame) ?? []);
  if (oversized === -1) {
    // A ping after the batch: its pong proves every earlier frame was handled.
    client.sendJson({ type: 'ping' });
    expected.push('pong::');
    await client.waitFor(
      () => (answersSince(conn).length >= expected.length ? true : undefined),
      30_000,
      'the batch answers',
    );
    expect(answersSince(conn)).toEqual(expected);
  } else {
    expect((await client.waitClosed(30_000)).code).toBe(1009);
    // Answers still in flight when the connection closed are lost with it: a prefix, in order.
    const got = answersSince(conn);
    expect(got).toEqual(expected.slice(0, got.length));
  }
  expect(conn.alien).toEqual([]);
  for (const answer of answersSince(conn)) {
    const [type = '', detail = ''] = answer.split(':');
    const kind = type === 'error' ? `error:${detail}` : `${type}:`;
    tally.set(kind, (tally.get(kind) ?? 0) + 1);
  }
  if (oversized !== -1) tally.set('close:1009', (tally.get('close:1009') ?? 0) + 1);
  conn.cursor = client.frames.length;
}

test('10,000 random and malformed frames: only protocol answers, in order, or documented closes', async () => {
  let run = 0;
  const result = await fc.check(
    fc.asyncProperty(fc.array(fuzzFrame(), { minLength: BATCH, maxLength: BATCH }), async (frames) => {
      await runBatch(frames, run % POOL);
      run += 1;
    }),
    { numRuns: RUNS, endOnFailure: true },
  );
  // fast-check's own report prints every frame in full (megabytes); this one stays readable.
  if (result.failed) {
    const frames = result.counterexample?.[0] ?? [];
    const preview = frames.map(
      (frame) =>
        `${frame.binary ? 'bin' : 'txt'}(${frame.data.length}) ${frame.data.toString('utf8', 0, 60)}`,
    );
    throw new Error(
      `fuzz failed (seed ${result.seed}, path ${String(result.counterexample ? result.counterexamplePath : '')}): ` +
        `${String(result.errorInstance)}\nframes:\n${preview.join('\n')}`,
    );
  }
  // A batch ends at its first oversized frame (1009), so a random share of frames is never sent:
  // about 7–10 % here, and 0.9 failed one CI run in three (8,985). This only guards against a
  // fuzz that degenerates into closing at once.
  expect(framesSent).toBeGreaterThanOrEqual(RUNS * BATCH * 0.8);
  // Every kind of answer came up, so the mix was not all one kind of garbage.
  const kinds = [...tally.keys()];
  for (const kind of [
    'accepted:',
    'presence:',
    'pong:',
    'error:invalid_json',
    'error:invalid_frame',
    'error:too_large',
  ])
    expect(kinds).toContain(kind);
});

// A text frame that is not UTF-8 is not a WebSocket message at all: RFC 6455 (8.1) requires the
// endpoint to fail the connection. uWS does, without a close frame (the client sees 1006, not the
// RFC's 1007); docs/protocol.md's close table does not list this case. Here: the connection fails and
// nothing outside the protocol is ever sent.
test('a text frame that is not valid UTF-8 fails the connection; no non-protocol answer', async () => {
  const samples = fc.sample(nonUtf8Text(), { numRuns: 10 });
  for (const frame of samples) {
    const conn = await open();
    conn.client.sendRaw(frame.data, false);
    expect([1006, 1007]).toContain((await conn.client.waitClosed(30_000)).code);
    expect(conn.alien).toEqual([]);
    expect(answersSince(conn)).toEqual([]);
  }
});

test('afterwards the gateway is healthy and a fresh pair of clients exchange a message', async () => {
  expect((await fetch(`${gateway.httpUrl}/healthz`)).status).toBe(200);
  const [alice, bob] = [`alice-${randomBytes(4).toString('hex')}`, `bob-${randomBytes(4).toString('hex')}`];
  const a = await TestClient.connect(gateway.url, { token: await tokenFor(alice) });
  const b = await TestClient.connect(gateway.url, { token: await tokenFor(bob) });
  try {
    await b.next('synced');
    expect(await a.send(bob, 'still here', 'after-fuzz')).toMatchObject({ type: 'accepted', status: 'sent' });
    expect(await b.next('message')).toMatchObject({ from: alice, body: 'still here' });
  } finally {
    await Promise.all([a.close(), b.close()]);
  }
});
