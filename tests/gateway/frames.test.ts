/**
 * Every client frame and every error code of docs/protocol.md "Frames", end to end on a real gateway
 * (real Redis and Kafka): answers, cid echo, the connection staying open after errors, the close
 * codes for oversized frames and repeated invalid frames, mailbox_full, and pipelined order.
 */
import { randomBytes } from 'node:crypto';
import { TestClient, type Frame } from '../support/client';
import { isolatedEnv, startGateway, type GatewayProcess } from '../support/gateways';
import { tokenFor } from '../support/tokens';

const MAX_BYTES = 65_536;
const MAX_FRAME_BYTES = 262_144;
let gateway: GatewayProcess;
const clients: TestClient[] = [];

beforeAll(async () => {
  gateway = await startGateway({ env: { ...isolatedEnv(), MAILBOX_MAX: '3' } });
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close()));
});

afterAll(async () => {
  await gateway?.stop();
});

const user = (name: string) => `${name}-${randomBytes(4).toString('hex')}`;

async function connect(name: string): Promise<TestClient> {
  const client = await TestClient.connect(gateway.url, { token: await tokenFor(name) });
  clients.push(client);
  await client.next('synced');
  return client;
}

/** The connection is open and its stream in step: a ping sent now is answered. */
async function expectStillOpen(client: TestClient): Promise<void> {
  client.sendJson({ type: 'ping' });
  await client.next('pong');
  expect(client.closed).toBeUndefined();
}

/** The next error frame, which must be the very next answer (nothing skipped). */
async function nextError(client: TestClient): Promise<Extract<Frame, { type: 'error' }>> {
  const before = client.frames.length;
  const error = await client.next('error');
  expect(client.frames.slice(before).map((frame) => frame.type)).toEqual(['error']);
  return error;
}

/** A `send` frame whose JSON text is exactly `bytes` UTF-8 bytes long (ASCII padding). */
function sendFrameOfSize(bytes: number, cid: string): string {
  const empty = JSON.stringify({ type: 'send', to: 'bob', cid, body: '' });
  return JSON.stringify({ type: 'send', to: 'bob', cid, body: 'x'.repeat(bytes - empty.length) });
}

describe('client frames are answered as specified', () => {
  test('send: accepted (queued while offline, sent while online); message carries the real sender', async () => {
    const [alice, bob] = [user('alice'), user('bob')];
    const a = await connect(alice);
    a.sendJson({ type: 'send', to: bob, body: 'offline', cid: 's-1', from: 'mallory' });
    const queued = await a.next('accepted');
    expect(queued).toEqual({
      type: 'accepted',
      cid: 's-1',
      id: expect.any(String),
      ts: expect.any(Number),
      status: 'queued',
    });
    const b = await connect(bob);
    expect(b.messages()).toEqual([
      { type: 'message', id: queued.id, from: alice, to: bob, body: 'offline', ts: queued.ts },
    ]);
    a.sendJson({ type: 'send', to: bob, body: 'online' });
    const sent = await a.next('accepted');
    expect(sent).toEqual({
      type: 'accepted',
      id: expect.any(String),
      ts: expect.any(Number),
      status: 'sent',
    });
    expect(await b.next('message')).toMatchObject({ id: sent.id, from: alice, body: 'online', ts: sent.ts });
  });

  test('ack: no reply, and the acknowledged message is not delivered again', async () => {
    const [alice, bob] = [user('alice'), user('bob')];
    const a = await connect(alice);
    const first = await a.send(bob, 'one', 'k-1');
    await a.send(bob, 'two', 'k-2');
    const b = await connect(bob);
    b.sendJson({ type: 'ack', ids: [first.type === 'accepted' ? first.id : '', 'unknown-id'] });
    const before = b.frames.length;
    await expectStillOpen(b);
    expect(b.frames.slice(before).map((frame) => frame.type)).toEqual(['pong']);
    await b.close();
    const again = await connect(bob);
    expect(again.messages().map((message) => message.body)).toEqual(['two']);
  });

  test('presence: exactly the ids asked, duplicates folded; ping: pong', async () => {
    const [alice, nobody] = [user('alice'), user('nobody')];
    const a = await connect(alice);
    a.sendJson({ type: 'presence', users: [nobody, alice, nobody] });
    expect(await a.next('presence')).toEqual({ type: 'presence', users: { [nobody]: false, [alice]: true } });
    a.sendJson({ type: 'ping' });
    expect(await a.next('pong')).toEqual({ type: 'pong', ts: expect.any(Number) });
  });
});

describe('errors leave the connection open', () => {
  test('invalid_json, without a cid (none can be read)', async () => {
    const a = await connect(user('alice'));
    for (const text of ['not json', '{"type":"send","to":"bob","body":"x","cid":"j-1"', '', '{"a":1}}']) {
      a.sendRaw(text);
      expect(await nextError(a)).toEqual({
        type: 'error',
        code: 'invalid_json',
        message: expect.any(String),
      });
      await expectStillOpen(a);
    }
  });

  test('invalid_frame: binary, wrong shapes, bad `to`; a well-formed cid is echoed', async () => {
    const a = await connect(user('alice'));
    const cases: [string | Buffer, string | undefined][] = [
      [Buffer.from(JSON.stringify({ type: 'ping' })), undefined],
      [JSON.stringify({ type: 'send', to: 'bad user!', body: 'x', cid: 'f-1' }), 'f-1'],
      [JSON.stringify({ type: 'send', to: 'bob', cid: 'f-2' }), 'f-2'],
      [JSON.stringify({ type: 'send', to: 'bob', body: '', cid: 'f-3' }), 'f-3'],
      [JSON.stringify({ type: 'teleport', cid: 'f-4' }), 'f-4'],
      [JSON.stringify({ type: 'ack', ids: [], cid: 'f-5' }), 'f-5'],
      [
        JSON.stringify({ type: 'presence', users: Array.from({ length: 101 }, (_, i) => `u${i}`) }),
        undefined,
      ],
      ['[1,2,3]', undefined],
      ['null', undefined],
      [JSON.stringify({ type: 'send', to: 'x'.repeat(129), body: 'x', cid: 'f-6' }), 'f-6'],
    ];
    for (const [data, cid] of cases) {
      a.sendRaw(data, typeof data !== 'string');
      const error = await nextError(a);
      expect(error).toEqual({
        type: 'error',
        code: 'invalid_frame',
        message: expect.any(String),
        ...(cid && { cid }),
      });
      await expectStillOpen(a);
    }
  });

  test('a malformed cid is never echoed', async () => {
    const a = await connect(user('alice'));
    // A malformed cid makes the frame itself invalid; the error must not repeat it.
    for (const cid of ['bad cid!', 'c'.repeat(65), 5, '', null, ['c-1']]) {
      a.sendJson({ type: 'send', to: 'bob', body: 'x', cid });
      const error = await nextError(a);
      expect(error.code).toBe('invalid_frame');
      expect(error).not.toHaveProperty('cid');
    }
    await expectStillOpen(a);
  });

  test('too_large for a body of maxBytes + 1 UTF-8 bytes, multi-byte too; maxBytes exactly is accepted', async () => {
    const [alice, bob] = [user('alice'), user('bob')];
    const a = await connect(alice);
    const tooLarge = [
      'a'.repeat(MAX_BYTES + 1),
      '€'.repeat(21_846),
      '😀'.repeat(MAX_BYTES / 4) + 'a',
      'é'.repeat(MAX_BYTES / 2) + 'a',
    ];
    for (const [i, body] of tooLarge.entries()) {
      expect(Buffer.byteLength(body)).toBeGreaterThan(MAX_BYTES);
      a.sendJson({ type: 'send', to: bob, body, cid: `t-${i}` });
      expect(await nextError(a)).toEqual({
        type: 'error',
        code: 'too_large',
        message: expect.any(String),
        cid: `t-${i}`,
      });
      await expectStillOpen(a);
    }
    const exact = '😀'.repeat(MAX_BYTES / 4);
    expect(await a.send(bob, exact, 'exact')).toMatchObject({ type: 'accepted', cid: 'exact' });
    const b = await connect(bob);
    expect(b.messages().map((message) => message.body)).toEqual([exact]);
  });
});

describe('close codes', () => {
  test('a frame of maxFrameBytes is processed; one byte more closes with 1009', async () => {
    const a = await connect(user('alice'));
    a.sendRaw(sendFrameOfSize(MAX_FRAME_BYTES, 'edge'));
    expect(await nextError(a)).toMatchObject({ code: 'too_large', cid: 'edge' });
    await expectStillOpen(a);
    a.sendRaw(sendFrameOfSize(MAX_FRAME_BYTES + 1, 'over'));
    expect((await a.waitClosed()).code).toBe(1009);
    expect(a.all('error').map((error) => error.cid)).not.toContain('over');
  });

  test('a frame of 4 x maxFrameBytes (the transport hard cap) also closes with 1009', async () => {
    const a = await connect(user('alice'));
    a.sendRaw(sendFrameOfSize(4 * MAX_FRAME_BYTES, 'big'));
    expect((await a.waitClosed()).code).toBe(1009);
  });

  // Known deviation, left in place: past uWS's maxPayloadLength (4 x maxFrameBytes) uWS drops the
  // TCP connection without a close frame (the client sees 1006). Raising that cap further only
  // moves the edge and lets a client make the gateway buffer more. This test starts failing, as a
  // reminder to make it a plain test, once such frames get 1009.
  test.failing('a frame above 4 x maxFrameBytes closes with 1009 (fails today: 1006)', async () => {
    const a = await connect(user('alice'));
    a.sendRaw(sendFrameOfSize(4 * MAX_FRAME_BYTES + 1, 'huge'));
    expect((await a.waitClosed()).code).toBe(1009);
  });

  test('ten invalid frames within 10 s are answered; the eleventh closes with 1008', async () => {
    const a = await connect(user('alice'));
    for (let i = 0; i < 10; i += 1) a.sendRaw(i % 2 === 0 ? 'nope' : '{"type":"nope"}');
    await a.waitFor(() => (a.all('error').length === 10 ? true : undefined), 10_000, 'ten errors');
    await expectStillOpen(a);
    a.sendRaw('nope');
    expect((await a.waitClosed()).code).toBe(1008);
  });
});

test('mailbox_full (MAILBOX_MAX=3): not accepted, never delivered; sends pass again after the ack', async () => {
  const [alice, bob] = [user('alice'), user('bob')];
  const a = await connect(alice);
  for (let i = 0; i < 3; i += 1)
    expect(await a.send(bob, `m${i}`, `m-${i}`)).toMatchObject({ type: 'accepted' });
  expect(await a.send(bob, 'overflow', 'm-3')).toEqual({
    type: 'error',
    code: 'mailbox_full',
    message: expect.any(String),
    cid: 'm-3',
  });
  await expectStillOpen(a);
  const b = await connect(bob);
  expect(b.messages().map((message) => message.body)).toEqual(['m0', 'm1', 'm2']);
  b.sendJson({ type: 'ack', ids: b.messages().map((message) => message.id) });
  await expectStillOpen(b);
  expect(await a.send(bob, 'after', 'm-4')).toMatchObject({ type: 'accepted', status: 'sent' });
  expect((await b.next('message')).body).toBe('after');
  expect(b.messages().map((message) => message.body)).not.toContain('overflow');
});

test('answers to 50 pipelined frames come back in the order of the frames', async () => {
  const a = await connect(user('alice'));
  const expected: string[] = [];
  for (let i = 0; i < 50; i += 1) {
    const kind = i % 5;
    if (kind === 0) {
      a.sendJson({ type: 'send', to: user('r'), body: `p${i}`, cid: `p-${i}` });
      expected.push(`accepted::p-${i}`);
    } else if (kind === 1) {
      a.sendJson({ type: 'ping' });
      expected.push('pong::');
    } else if (kind === 2) {
      a.sendJson({ type: 'presence', users: [user('x')] });
      expected.push('presence::');
    } else if (kind === 3) {
      a.sendJson({ type: 'send', to: user('r'), body: `p${i}` });
      expected.push('accepted::');
    } else {
      // Ten invalid frames in all: the allowance, not past it.
      const variant = Math.floor(i / 5) % 3;
      if (variant === 0) a.sendRaw('{broken');
      else if (variant === 1) a.sendRaw(Buffer.from('bin'), true);
      else a.sendJson({ type: 'send', to: 'bad user!', body: 'x', cid: `e-${i}` });
      expected.push(
        ['error:invalid_json:', 'error:invalid_frame:', `error:invalid_frame:e-${i}`][variant] ?? '',
      );
    }
  }
  const answers = () =>
    a.frames.filter((frame) => ['accepted', 'error', 'presence', 'pong'].includes(frame.type));
  await a.waitFor(() => (answers().length >= 50 ? true : undefined), 30_000, '50 answers');
  const describe = (frame: Frame) =>
    `${frame.type}:${frame.type === 'error' ? frame.code : ''}:${'cid' in frame && frame.cid !== undefined ? frame.cid : ''}`;
  expect(answers().map(describe)).toEqual(expected);
});
