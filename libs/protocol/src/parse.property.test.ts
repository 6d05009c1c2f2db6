import fc from 'fast-check';
import { ERROR_CODES } from './codes';
import { parseClientFrame, parseClientFrameWithSchema } from './parse';

/** Whatever a client sends, the parser answers: ok, or an error with a protocol code. */
function answersWithinContract(text: string, maxBytes?: number): boolean {
  const result = parseClientFrame(text, maxBytes === undefined ? {} : { maxBytes });
  if (result.ok) return typeof result.frame.type === 'string';
  return ERROR_CODES.includes(result.error.code) && typeof result.error.message === 'string';
}

const RUNS = 2_000;

const userId = fc.stringMatching(/^[A-Za-z0-9._@:-]{1,12}$/);
const field = fc.oneof(
  fc.anything(),
  fc.string(),
  fc.string({ unit: 'binary' }),
  userId,
  fc.array(userId, { maxLength: 5 }),
  fc.array(fc.anything(), { maxLength: 5 }),
);

/** Objects that look like frames: a known `type` and random values for known and unknown keys. */
const frameLike = fc.record(
  {
    type: fc.constantFrom('send', 'ack', 'presence', 'ping', 'welcome', 'error', ''),
    to: field,
    body: fc.oneof(fc.string({ unit: 'binary', maxLength: 40 }), field),
    cid: fc.oneof(fc.stringMatching(/^[A-Za-z0-9._:-]{0,70}$/), field),
    ids: field,
    users: field,
    from: field,
    extra: fc.dictionary(fc.string(), fc.anything()),
  },
  { requiredKeys: ['type'] },
);

describe('parseClientFrame never throws', () => {
  it('on arbitrary strings', () => {
    fc.assert(
      fc.property(fc.string(), (text) => answersWithinContract(text)),
      { numRuns: RUNS },
    );
  });

  it('on arbitrary unicode strings with a small maxBytes', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), fc.integer({ min: 1, max: 64 }), (text, maxBytes) =>
        answersWithinContract(text, maxBytes),
      ),
      { numRuns: RUNS },
    );
  });

  it('on arbitrary JSON text', () => {
    fc.assert(
      fc.property(fc.json(), (text) => answersWithinContract(text)),
      { numRuns: RUNS },
    );
  });

  it('on arbitrary serialized values', () => {
    fc.assert(
      fc.property(fc.anything(), (value) => {
        const text = JSON.stringify(value);
        return text === undefined || answersWithinContract(text);
      }),
      { numRuns: RUNS },
    );
  });

  it('on frame-like objects with random fields, and echoes only well-formed cids', () => {
    fc.assert(
      fc.property(frameLike, fc.integer({ min: 1, max: 200 }), (value, maxBytes) => {
        const text = JSON.stringify(value);
        if (!answersWithinContract(text, maxBytes)) return false;
        const result = parseClientFrame(text, { maxBytes });
        if (!result.ok && result.error.cid !== undefined) {
          return result.error.cid === value.cid && /^[A-Za-z0-9._:-]{1,64}$/.test(result.error.cid);
        }
        if (result.ok) return !('from' in result.frame);
        return true;
      }),
      { numRuns: RUNS },
    );
  });

  it('a valid send parses exactly when its body fits in maxBytes', () => {
    fc.assert(
      fc.property(
        userId,
        fc.string({ unit: 'binary', minLength: 1, maxLength: 30 }),
        fc.integer({ min: 1, max: 120 }),
        (to, body, maxBytes) => {
          const result = parseClientFrame(JSON.stringify({ type: 'send', to, body }), { maxBytes });
          const fits = Buffer.byteLength(body, 'utf8') <= maxBytes;
          return fits ? result.ok : !result.ok && result.error.code === 'too_large';
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('answers exactly what the zod schema answers (the hand-written fast path included)', () => {
    const messageId = fc.oneof(fc.string({ maxLength: 70 }), field);
    // Mostly frames the fast path takes (only known keys, near-valid values), some it must refuse.
    const sendOrAck = fc.oneof(
      fc.record(
        {
          type: fc.constant('send'),
          to: fc.oneof(userId, field),
          body: fc.oneof(fc.string(), field),
          cid: fc.oneof(fc.stringMatching(/^[A-Za-z0-9._:-]{0,70}$/), field),
        },
        { requiredKeys: ['type'] },
      ),
      fc.record(
        {
          type: fc.constant('ack'),
          ids: fc.oneof(
            fc.array(messageId, { maxLength: 4 }),
            fc.array(fc.string({ minLength: 1, maxLength: 64 }), { minLength: 999, maxLength: 1002 }),
            field,
          ),
        },
        { requiredKeys: ['type'] },
      ),
      frameLike,
    );
    fc.assert(
      fc.property(sendOrAck, fc.integer({ min: 1, max: 200 }), (value, maxBytes) => {
        const text = JSON.stringify(value);
        expect(parseClientFrame(text, { maxBytes })).toEqual(parseClientFrameWithSchema(text, { maxBytes }));
      }),
      { numRuns: RUNS },
    );
  });
});
