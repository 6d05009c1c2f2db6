import { ERROR_CODES, ErrorCode, Defaults } from './codes';
import { parseClientFrame, type ParseResult } from './parse';
import type { ClientFrame } from './frames';

const json = (value: unknown): string => JSON.stringify(value);

function expectOk(text: string, options?: { maxBytes?: number }): ClientFrame {
  const result = parseClientFrame(text, options);
  if (!result.ok) throw new Error(`expected ok, got ${result.error.code}: ${result.error.message}`);
  return result.frame;
}

function expectError(result: ParseResult<ClientFrame>, code: ErrorCode): { message: string; cid?: string } {
  if (result.ok) throw new Error(`expected ${code}, got ok: ${json(result.frame)}`);
  expect(result.error.code).toBe(code);
  return result.error;
}

const ids = (n: number, prefix = 'm'): string[] => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

describe('parseClientFrame: valid frames from docs/protocol.md', () => {
  it('parses send', () => {
    expect(expectOk('{"type":"send","to":"bob","body":"hi","cid":"c-1"}')).toEqual({
      type: 'send',
      to: 'bob',
      body: 'hi',
      cid: 'c-1',
    });
  });

  it('parses send without cid', () => {
    expect(expectOk(json({ type: 'send', to: 'bob', body: 'hi' }))).toEqual({
      type: 'send',
      to: 'bob',
      body: 'hi',
    });
  });

  it('accepts every user id character and 128-character ids', () => {
    expect(expectOk(json({ type: 'send', to: 'A-z_0.9@x:y', body: 'x' }))).toMatchObject({
      to: 'A-z_0.9@x:y',
    });
    expect(expectOk(json({ type: 'send', to: 'u'.repeat(128), body: 'x' }))).toMatchObject({
      to: 'u'.repeat(128),
    });
  });

  it('accepts a 64-character cid', () => {
    expect(expectOk(json({ type: 'send', to: 'bob', body: 'x', cid: 'c'.repeat(64) }))).toMatchObject({
      cid: 'c'.repeat(64),
    });
  });

  it('parses ack with 1 and with 1,000 ids', () => {
    expect(expectOk(json({ type: 'ack', ids: ['01J0000000000000000000000'] }))).toEqual({
      type: 'ack',
      ids: ['01J0000000000000000000000'],
    });
    expect(expectOk(json({ type: 'ack', ids: ids(1000) }))).toMatchObject({
      ids: ids(1000),
    });
  });

  it('parses presence with 1 and with 100 users, duplicates allowed', () => {
    expect(expectOk('{"type":"presence","users":["bob","carol"]}')).toEqual({
      type: 'presence',
      users: ['bob', 'carol'],
    });
    expect(expectOk(json({ type: 'presence', users: ['bob', 'bob'] }))).toMatchObject({
      users: ['bob', 'bob'],
    });
    expect(expectOk(json({ type: 'presence', users: ids(100, 'u') }))).toMatchObject({
      users: ids(100, 'u'),
    });
  });

  it('parses ping', () => {
    expect(expectOk('{"type":"ping"}')).toEqual({ type: 'ping' });
  });
});

describe('parseClientFrame: invalid_frame', () => {
  const cases: Array<[string, unknown]> = [
    ['a JSON string', 'send'],
    ['a JSON number', 42],
    ['null', null],
    ['an array', [{ type: 'ping' }]],
    ['an object without type', { to: 'bob', body: 'hi' }],
    ['an unknown type', { type: 'subscribe' }],
    ['a server-only type', { type: 'welcome' }],
    ['a type that is not a string', { type: 1 }],
    ['send without to', { type: 'send', body: 'hi' }],
    ['send without body', { type: 'send', to: 'bob' }],
    ['send with a numeric to', { type: 'send', to: 7, body: 'hi' }],
    ['send with a numeric body', { type: 'send', to: 'bob', body: 5 }],
    ['send with an object body', { type: 'send', to: 'bob', body: { text: 'hi' } }],
    ['send with an empty body', { type: 'send', to: 'bob', body: '' }],
    ['send with an empty to', { type: 'send', to: '', body: 'hi' }],
    ['send to a user id with a space', { type: 'send', to: 'bob smith', body: 'hi' }],
    ['send to a user id with a slash', { type: 'send', to: 'bob/1', body: 'hi' }],
    ['send to a user id with a non-ASCII letter', { type: 'send', to: 'bób', body: 'hi' }],
    ['send to a user id of 129 characters', { type: 'send', to: 'u'.repeat(129), body: 'hi' }],
    ['send with a cid of 65 characters', { type: 'send', to: 'bob', body: 'hi', cid: 'c'.repeat(65) }],
    ['send with an empty cid', { type: 'send', to: 'bob', body: 'hi', cid: '' }],
    ['send with a cid containing @', { type: 'send', to: 'bob', body: 'hi', cid: 'c@1' }],
    ['send with a numeric cid', { type: 'send', to: 'bob', body: 'hi', cid: 1 }],
    ['ack without ids', { type: 'ack' }],
    ['ack with ids not an array', { type: 'ack', ids: 'm1' }],
    ['ack with 0 ids', { type: 'ack', ids: [] }],
    ['ack with 1,001 ids', { type: 'ack', ids: ids(1001) }],
    ['ack with a numeric id', { type: 'ack', ids: [1] }],
    ['ack with an empty id', { type: 'ack', ids: [''] }],
    ['presence without users', { type: 'presence' }],
    ['presence with 0 users', { type: 'presence', users: [] }],
    ['presence with 101 users', { type: 'presence', users: ids(101, 'u') }],
    ['presence with a bad user id', { type: 'presence', users: ['bob', 'not valid'] }],
    ['presence with a user id of 129 characters', { type: 'presence', users: ['u'.repeat(129)] }],
    ['presence with users as a map', { type: 'presence', users: { bob: true } }],
  ];

  it.each(cases)('refuses %s', (_name, value) => {
    const error = expectError(parseClientFrame(json(value)), ErrorCode.InvalidFrame);
    expect(error.message.length).toBeGreaterThan(0);
  });

  it('names the offending field in the message', () => {
    const error = expectError(
      parseClientFrame(json({ type: 'send', to: 'bob smith', body: 'hi' })),
      ErrorCode.InvalidFrame,
    );
    expect(error.message).toMatch(/^to: /);
  });
});

describe('parseClientFrame: invalid_json', () => {
  it.each([
    '',
    ' ',
    '{',
    '{"type":"ping"',
    "{'type':'ping'}",
    'ping',
    '{"type":"ping"}}',
    'undefined',
    '\u0000',
  ])('refuses %j', (text) => {
    expectError(parseClientFrame(text), ErrorCode.InvalidJson);
  });

  it('never echoes a cid, even one that looks well-formed', () => {
    const error = expectError(parseClientFrame('{"type":"send","cid":"c-1",'), ErrorCode.InvalidJson);
    expect(error).not.toHaveProperty('cid');
  });
});

describe('parseClientFrame: body size in UTF-8 bytes', () => {
  const send = (body: string, cid?: string): string => json({ type: 'send', to: 'bob', body, cid });

  it('uses the protocol default maxBytes of 65,536', () => {
    expect(expectOk(send('a'.repeat(Defaults.maxBytes)))).toMatchObject({
      type: 'send',
    });
    expectError(parseClientFrame(send('a'.repeat(Defaults.maxBytes + 1))), ErrorCode.TooLarge);
  });

  it('counts 2-byte characters: é × maxBytes/2 passes, one more byte is too_large', () => {
    const exact = 'é'.repeat(Defaults.maxBytes / 2);
    expect(Buffer.byteLength(exact)).toBe(Defaults.maxBytes);
    expectOk(send(exact));
    expectError(parseClientFrame(send(exact + 'a')), ErrorCode.TooLarge);
    // Fewer characters than maxBytes, yet too many bytes.
    expectError(parseClientFrame(send('é'.repeat(Defaults.maxBytes / 2 + 1))), ErrorCode.TooLarge);
  });

  it('counts 4-byte characters (surrogate pairs) as 4 bytes', () => {
    const exact = '😀'.repeat(Defaults.maxBytes / 4);
    expect(Buffer.byteLength(exact)).toBe(Defaults.maxBytes);
    expectOk(send(exact));
    expectError(parseClientFrame(send(exact + 'a')), ErrorCode.TooLarge);
  });

  it('counts bytes of the decoded string, not of the JSON escapes', () => {
    // "\u00e9" is 6 characters on the wire but 2 bytes once decoded.
    const text = `{"type":"send","to":"bob","body":"${'\\u00e9'.repeat(5)}"}`;
    expect(expectOk(text, { maxBytes: 10 })).toMatchObject({
      body: 'é'.repeat(5),
    });
    expectError(parseClientFrame(text, { maxBytes: 9 }), ErrorCode.TooLarge);
  });

  it.each([
    ['ASCII', 'a', 1],
    ['é', 'é', 2],
    ['€', '€', 3],
    ['😀', '😀', 4],
  ])('honours a custom maxBytes with %s', (_name, char, width) => {
    const maxBytes = 12;
    const exact = char.repeat(maxBytes / width);
    expect(Buffer.byteLength(exact)).toBe(maxBytes);
    expectOk(send(exact), { maxBytes });
    expectError(parseClientFrame(send(exact + 'a'), { maxBytes }), ErrorCode.TooLarge);
  });

  it('handles the smallest maxBytes', () => {
    expectOk(send('a'), { maxBytes: 1 });
    expectError(parseClientFrame(send('é'), { maxBytes: 1 }), ErrorCode.TooLarge);
  });

  it('echoes a well-formed cid on too_large', () => {
    const error = expectError(parseClientFrame(send('ab', 'c-9'), { maxBytes: 1 }), ErrorCode.TooLarge);
    expect(error.cid).toBe('c-9');
  });

  it('applies maxBytes only to send bodies', () => {
    expectOk(json({ type: 'ack', ids: ids(10) }), { maxBytes: 1 });
    expectOk(json({ type: 'presence', users: ['bob', 'carol'] }), {
      maxBytes: 1,
    });
  });
});

describe('parseClientFrame: cid echo in errors', () => {
  it('echoes a well-formed cid on invalid_frame', () => {
    const error = expectError(
      parseClientFrame(json({ type: 'send', to: 'bad id', body: 'hi', cid: 'c-1' })),
      ErrorCode.InvalidFrame,
    );
    expect(error.cid).toBe('c-1');
  });

  it('echoes a well-formed cid on a frame of unknown type', () => {
    const error = expectError(
      parseClientFrame(json({ type: 'nope', cid: 'a.b_c:d-1' })),
      ErrorCode.InvalidFrame,
    );
    expect(error.cid).toBe('a.b_c:d-1');
  });

  it.each([
    ['too long', 'c'.repeat(65)],
    ['empty', ''],
    ['with a space', 'c 1'],
    ['with @', 'c@1'],
    ['a number', 12],
    ['null', null],
    ['an object', { cid: 'c-1' }],
  ])('does not echo a cid that is %s', (_name, cid) => {
    const error = expectError(
      parseClientFrame(json({ type: 'send', to: 'bob', body: '', cid })),
      ErrorCode.InvalidFrame,
    );
    expect(error).not.toHaveProperty('cid');
  });

  it('has no cid when the frame carried none', () => {
    const error = expectError(
      parseClientFrame(json({ type: 'send', to: 'bob', body: '' })),
      ErrorCode.InvalidFrame,
    );
    expect(error).not.toHaveProperty('cid');
  });
});

describe('parseClientFrame: unknown fields', () => {
  it('ignores unknown fields in every frame type', () => {
    expect(expectOk(json({ type: 'ping', extra: 1, nested: { a: [1] } }))).toEqual({ type: 'ping' });
    expect(expectOk(json({ type: 'ack', ids: ['m1'], v: 2 }))).toEqual({
      type: 'ack',
      ids: ['m1'],
    });
    expect(expectOk(json({ type: 'presence', users: ['bob'], since: 0 }))).toEqual({
      type: 'presence',
      users: ['bob'],
    });
    expect(expectOk(json({ type: 'send', to: 'bob', body: 'hi', priority: 'high' }))).toEqual({
      type: 'send',
      to: 'bob',
      body: 'hi',
    });
  });

  it('strips a client-supplied from, id and ts from send', () => {
    const frame = expectOk(
      json({
        type: 'send',
        to: 'bob',
        body: 'hi',
        from: 'mallory',
        id: 'x',
        ts: 1,
      }),
    );
    expect(frame).toEqual({ type: 'send', to: 'bob', body: 'hi' });
    expect(frame).not.toHaveProperty('from');
  });

  it('does not let __proto__ in the JSON pollute the frame', () => {
    const frame = expectOk('{"type":"ping","__proto__":{"polluted":true}}');
    expect(frame).toEqual({ type: 'ping' });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('parseClientFrame: result shape', () => {
  it('every error code it returns is a protocol error code', () => {
    const samples = ['{', json({ type: 'x' }), json({ type: 'send', to: 'bob', body: 'ab' })];
    for (const text of samples) {
      const result = parseClientFrame(text, { maxBytes: 1 });
      expect(result.ok).toBe(false);
      if (!result.ok) expect(ERROR_CODES).toContain(result.error.code);
    }
  });
});
