import { ERROR_CODES, ErrorCode } from './codes';
import { ServerFrame } from './frames';
import { parseServerFrame } from './parse';

/** The server → client examples of docs/protocol.md v1, verbatim where the spec gives a literal. */
const examples: Array<[string, string]> = [
  [
    'welcome',
    '{"type":"welcome","user":"alice","session":"s-1","gateway":"gw-1","maxBytes":65536,"maxFrameBytes":262144}',
  ],
  [
    'accepted, sent, with cid',
    '{"type":"accepted","cid":"c-1","id":"01JD0000000000000000000000","ts":1732300000000,"status":"sent"}',
  ],
  [
    'accepted, queued, with cid',
    '{"type":"accepted","cid":"c-1","id":"01JD0000000000000000000000","ts":1732300000000,"status":"queued"}',
  ],
  [
    'accepted, sent, without cid',
    '{"type":"accepted","id":"01JD0000000000000000000000","ts":1732300000000,"status":"sent"}',
  ],
  [
    'accepted, queued, without cid',
    '{"type":"accepted","id":"01JD0000000000000000000000","ts":1732300000000,"status":"queued"}',
  ],
  [
    'message',
    '{"type":"message","id":"01JD0000000000000000000000","from":"alice","to":"bob","body":"hi","ts":1732300000000}',
  ],
  ['presence answer', '{"type":"presence","users":{"bob":true,"carol":false}}'],
  ['synced', '{"type":"synced"}'],
  ['pong', '{"type":"pong","ts":1732300000000}'],
  ...ERROR_CODES.map((code): [string, string] => [
    `error ${code} with cid`,
    JSON.stringify({ type: 'error', code, message: '…', cid: 'c-1' }),
  ]),
  ...ERROR_CODES.map((code): [string, string] => [
    `error ${code} without cid`,
    JSON.stringify({ type: 'error', code, message: '…' }),
  ]),
];

describe('server frames from docs/protocol.md', () => {
  it.each(examples)('%s parses through parseServerFrame and ServerFrame', (_name, text) => {
    const result = parseServerFrame(text);
    if (!result.ok) throw new Error(`${result.error.code}: ${result.error.message}`);
    expect(result.frame).toEqual(JSON.parse(text));
    expect(ServerFrame.parse(JSON.parse(text))).toEqual(JSON.parse(text));
  });

  it('covers every error code of the spec', () => {
    const codes = examples.map(([, text]) => JSON.parse(text) as { type: string; code?: string });
    for (const code of ERROR_CODES) {
      expect(codes.some((frame) => frame.type === 'error' && frame.code === code)).toBe(true);
    }
  });
});

describe('parseServerFrame refusals', () => {
  it.each([
    ['an unknown type', { type: 'hello' }],
    ['a client-only type', { type: 'ping' }],
    ['accepted with an unknown status', { type: 'accepted', id: 'm1', ts: 1, status: 'delivered' }],
    ['accepted without ts', { type: 'accepted', id: 'm1', status: 'sent' }],
    ['error with an unknown code', { type: 'error', code: 'oops', message: 'x' }],
    ['a presence answer as a list', { type: 'presence', users: ['bob'] }],
    ['pong with a fractional ts', { type: 'pong', ts: 1.5 }],
    [
      'message with a bad sender id',
      { type: 'message', id: 'm1', from: 'a b', to: 'bob', body: 'hi', ts: 1 },
    ],
  ])('refuses %s as invalid_frame', (_name, value) => {
    const result = parseServerFrame(JSON.stringify(value));
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error.code).toBe(ErrorCode.InvalidFrame);
  });

  it('refuses invalid JSON as invalid_json', () => {
    const result = parseServerFrame('{"type":');
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error.code).toBe(ErrorCode.InvalidJson);
  });
});
