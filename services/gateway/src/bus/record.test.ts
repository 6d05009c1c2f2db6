import fc from 'fast-check';
import { decodeRecord } from './record';

const field = fc.oneof(fc.string(), fc.integer(), fc.double(), fc.constant(null), fc.boolean());

describe('decodeRecord', () => {
  it('reads a well-formed record, extra fields dropped', () => {
    const message = { id: 'm1', from: 'alice', to: 'bob', body: 'hi', ts: 1732300000000, seq: 3 };
    expect(decodeRecord(Buffer.from(JSON.stringify({ ...message, extra: 1 })))).toEqual({
      ok: true,
      message,
    });
  });

  it('refuses what is not a stored message, with a reason', () => {
    for (const value of [
      'not json',
      '[]',
      '{"id":"x","to":"alice"}',
      '{"id":"x","from":"a","to":"b","body":"c","ts":1,"seq":1.5}',
    ]) {
      const result = decodeRecord(Buffer.from(value));
      expect(result.ok).toBe(false);
    }
    expect(decodeRecord(null)).toEqual({ ok: false, reason: 'empty value' });
  });

  it('accepts exactly what the schema accepts (the hand-written check included)', () => {
    const recordLike = fc.record(
      { id: field, from: field, to: field, body: field, ts: field, seq: field, extra: field },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(recordLike, (value) => {
        const result = decodeRecord(Buffer.from(JSON.stringify(value)));
        const valid =
          typeof value.id === 'string' &&
          typeof value.from === 'string' &&
          typeof value.to === 'string' &&
          typeof value.body === 'string' &&
          typeof value.ts === 'number' &&
          Number.isFinite(value.ts) &&
          typeof value.seq === 'number' &&
          Number.isInteger(value.seq);
        expect(result.ok).toBe(valid);
      }),
      { numRuns: 2_000 },
    );
  });
});
