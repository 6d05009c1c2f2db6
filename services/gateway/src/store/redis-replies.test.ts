import fc from 'fast-check';
import { parseAcceptReply } from './redis-replies';

const message = { id: 'm1', from: 'alice', to: 'bob', body: 'hi', ts: 1 };

describe('parseAcceptReply', () => {
  it('reads a stored reply with its routes', () => {
    expect(parseAcceptReply(['stored', 7, 1, 0, 3], message)).toEqual({
      kind: 'stored',
      message: { ...message, seq: 7 },
      online: true,
      routes: [0, 3],
    });
    expect(parseAcceptReply(['stored', 1, 0], message)).toMatchObject({ online: false, routes: [] });
  });

  it('reads the other replies and refuses malformed ones', () => {
    const record = '{"id":"m0","ts":5,"to":"bob","status":"sent"}';
    expect(parseAcceptReply(['duplicate', record], message)).toEqual({
      kind: 'duplicate',
      id: 'm0',
      ts: 5,
      to: 'bob',
      status: 'sent',
    });
    expect(parseAcceptReply(['mailbox_full'], message)).toEqual({ kind: 'mailbox_full' });
    for (const bad of [
      ['stored', 0, 1],
      ['stored', 2, 2],
      ['stored', 2, 1, -1],
      ['stored', 2, 1, 'x'],
      'OK',
      null,
    ]) {
      expect(() => parseAcceptReply(bad, message)).toThrow();
    }
  });

  it('answers a stored-looking reply exactly as the schema would (the hand-written path included)', () => {
    const value = fc.oneof(
      fc.integer({ min: -2, max: 5 }),
      fc.double(),
      fc.string({ maxLength: 2 }),
      fc.constant(null),
    );
    fc.assert(
      fc.property(fc.array(value, { maxLength: 5 }), (rest) => {
        const reply = ['stored', ...rest];
        const [seq, online, ...routes] = rest;
        const valid =
          typeof seq === 'number' &&
          Number.isInteger(seq) &&
          seq > 0 &&
          (online === 0 || online === 1) &&
          routes.every((route) => typeof route === 'number' && Number.isInteger(route) && route >= 0);
        if (valid) expect(parseAcceptReply(reply, message)).toMatchObject({ kind: 'stored', routes });
        else expect(() => parseAcceptReply(reply, message)).toThrow();
      }),
      { numRuns: 2_000 },
    );
  });
});
