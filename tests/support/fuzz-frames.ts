/**
 * fast-check arbitraries of client frames for the fuzz suite: arbitrary text, JSON values,
 * frames with a valid `type` and random fields, huge numbers, deep nesting, lone surrogates,
 * binary frames, and sizes at the body and frame limits.
 */
import fc from 'fast-check';

export const MAX_BYTES = 65_536;
export const MAX_FRAME_BYTES = 262_144;

export interface FuzzFrame {
  data: Buffer;
  binary: boolean;
}

const text = (arbitrary: fc.Arbitrary<string>): fc.Arbitrary<FuzzFrame> =>
  arbitrary.map((value) => ({ data: Buffer.from(value, 'utf8'), binary: false }));

const userish = fc.oneof(
  fc.stringMatching(/^[A-Za-z0-9._@:-]{1,12}$/),
  fc.string({ maxLength: 140 }),
  fc.constantFrom('a'.repeat(128), 'a'.repeat(129), 'bad user!', ''),
  fc.jsonValue({ maxDepth: 2 }),
);
const cidish = fc.oneof(
  fc.stringMatching(/^[A-Za-z0-9._:-]{1,64}$/),
  fc.constantFrom('c'.repeat(65), 'bad cid!', '', 'ok-cid'),
  fc.jsonValue({ maxDepth: 1 }),
);
const bodyish = fc.oneof(
  fc.string({ maxLength: 50 }),
  fc.string({ unit: 'binary', maxLength: 50 }),
  fc.string({ unit: fc.char16bits(), maxLength: 20 }),
  fc.constantFrom(
    'x'.repeat(MAX_BYTES),
    'x'.repeat(MAX_BYTES + 1),
    '€'.repeat(21_845),
    '€'.repeat(21_846),
    '',
  ),
  fc.jsonValue({ maxDepth: 2 }),
);
const bigNumber = fc.constantFrom(1e308, -1e308, Number.MAX_SAFE_INTEGER + 2, 5e-324, -0);

/** An object with a real frame type and a random mix of right, wrong and unknown fields. */
const typedFrame = fc
  .record(
    {
      type: fc.constantFrom('send', 'ack', 'presence', 'ping', 'Send', 'message', 'welcome'),
      to: userish,
      body: bodyish,
      cid: cidish,
      from: userish,
      ids: fc.oneof(fc.array(fc.string({ maxLength: 70 }), { maxLength: 5 }), fc.jsonValue({ maxDepth: 1 })),
      users: fc.oneof(
        fc.array(userish, { maxLength: 5 }),
        fc.array(fc.constant('u'), { minLength: 100, maxLength: 101 }),
      ),
      extra: fc.oneof(fc.jsonValue({ maxDepth: 3 }), bigNumber),
    },
    { requiredKeys: ['type'] },
  )
  .map((frame) => JSON.stringify(frame));

/** Raw JSON texts no serializer would write: huge numbers, deep nesting, escapes, duplicates. */
const oddJson = fc.oneof(
  fc.constantFrom(
    '{"type":"ping","n":1e999}',
    '{"type":"ping","n":-123456789012345678901234567890e400}',
    '{"type":"send","to":"bob","body":"\\ud800","cid":"lone"}',
    '{"type":"send","to":"bob","body":"\\u0000","cid":"nul"}',
    '{"type":"ping","type":"send"}',
    '{"type":"send","to":"bob","body":"x","cid":"dup","cid":"dup2"}',
    '{"__proto__":{"type":"ping"}}',
    '{"type":"ping","constructor":{"prototype":{"polluted":true}}}',
    '\ufeff{"type":"ping"}',
    ' \n\t{"type":"ping"} ',
  ),
  fc.integer({ min: 1, max: 50_000 }).map((depth) => `${'['.repeat(depth)}${']'.repeat(depth)}`),
  fc
    .integer({ min: 1, max: 20_000 })
    .map((depth) => `{"type":"ping","x":${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}}`),
);

/** Frames at the limits: a body just under/over maxBytes, a frame at/over maxFrameBytes. */
const pingOfSize = (bytes: number): string => {
  const empty = JSON.stringify({ type: 'ping', pad: '' });
  return JSON.stringify({ type: 'ping', pad: 'p'.repeat(bytes - empty.length) });
};
const nearLimit = fc.constantFrom(
  JSON.stringify({ type: 'send', to: 'bob', body: '😀'.repeat(MAX_BYTES / 4), cid: 'at-limit' }),
  JSON.stringify({ type: 'send', to: 'bob', body: '😀'.repeat(MAX_BYTES / 4) + 'a', cid: 'over-limit' }),
  pingOfSize(MAX_FRAME_BYTES),
  pingOfSize(MAX_FRAME_BYTES + 1),
);

export function fuzzFrame(): fc.Arbitrary<FuzzFrame> {
  // Integer weights; oversized frames are rare because each one costs a connection.
  return fc.oneof(
    { weight: 80, arbitrary: text(fc.string({ maxLength: 200 })) },
    { weight: 40, arbitrary: text(fc.string({ unit: 'binary', maxLength: 100 })) },
    { weight: 20, arbitrary: text(fc.string({ unit: fc.char16bits(), maxLength: 50 })) },
    { weight: 80, arbitrary: text(fc.json({ maxDepth: 4 })) },
    { weight: 160, arbitrary: text(typedFrame) },
    { weight: 40, arbitrary: text(oddJson) },
    { weight: 40, arbitrary: bytes(true) },
    { weight: 1, arbitrary: text(nearLimit) },
  );
}

/** Random bytes as a binary frame. (As a text frame they are usually not UTF-8: see fuzz.test.ts.) */
function bytes(binary: boolean): fc.Arbitrary<FuzzFrame> {
  return fc.uint8Array({ maxLength: 300 }).map((data) => ({ data: Buffer.from(data), binary }));
}

/** Text frames whose bytes are not valid UTF-8. */
export function nonUtf8Text(): fc.Arbitrary<FuzzFrame> {
  return fc
    .uint8Array({ minLength: 1, maxLength: 100 })
    .map((data) => ({ data: Buffer.concat([Buffer.from(data), Buffer.from([0xff])]), binary: false }));
}
