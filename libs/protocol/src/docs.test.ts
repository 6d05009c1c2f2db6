/**
 * docs/protocol.md cannot drift from the schemas: every JSON example in it is parsed with this
 * package (client frames with parseClientFrame, server frames with ServerFrame, refused-upgrade
 * bodies against UpgradeError), and every error code, close code and close reason appears in it.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { z } from 'zod';
import { CLOSE_CODES, CloseReason, ERROR_CODES, UpgradeError } from './codes';
import { ServerFrame, type ClientFrame } from './frames';
import { parseClientFrame } from './parse';

const DOC = resolve(__dirname, '..', '..', '..', 'docs', 'protocol.md');
const doc = readFileSync(DOC, 'utf8');

interface Example {
  kind: string;
  text: string;
  line: number;
}

/** Every ```json fence, with its label (client, server, http). */
function examples(markdown: string): Example[] {
  const found: Example[] = [];
  const fence = /^```json(?:[ \t]+(\S+))?[ \t]*\n([\s\S]*?)^```/gm;
  for (const match of markdown.matchAll(fence)) {
    const line = markdown.slice(0, match.index).split('\n').length;
    found.push({ kind: match[1] ?? '(none)', text: match[2] ?? '', line });
  }
  return found;
}

const all = examples(doc);
const of = (kind: string) => all.filter((example) => example.kind === kind);
const where = (example: Example) => `docs/protocol.md:${example.line}`;

test('the doc has examples, and every json fence says which way it goes', () => {
  expect(all.length).toBeGreaterThan(20);
  expect(all.filter((example) => !['client', 'server', 'http'].includes(example.kind)).map(where)).toEqual(
    [],
  );
});

test('every client example is a frame parseClientFrame accepts', () => {
  const frames: ClientFrame[] = [];
  for (const example of of('client')) {
    const result = parseClientFrame(example.text);
    if (!result.ok) throw new Error(`${where(example)}: ${result.error.code}: ${result.error.message}`);
    frames.push(result.frame);
  }
  expect(new Set(frames.map((frame) => frame.type))).toEqual(new Set(['send', 'ack', 'presence', 'ping']));
});

test('every server example is a ServerFrame, and every frame type and error code has one', () => {
  const frames: ServerFrame[] = [];
  for (const example of of('server')) {
    const result = ServerFrame.safeParse(JSON.parse(example.text));
    if (!result.success) throw new Error(`${where(example)}: ${result.error.message}`);
    frames.push(result.data);
  }
  const types = ServerFrame.options.map((option) => option.shape.type.value);
  expect(new Set(frames.map((frame) => frame.type))).toEqual(new Set(types));
  const codes = frames.flatMap((frame) => (frame.type === 'error' ? [frame.code] : []));
  expect(new Set(codes)).toEqual(new Set(ERROR_CODES));
});

test('every refused-upgrade example is a documented status body, and each refusal has one', () => {
  const errors = Object.values(UpgradeError).map((refusal) => refusal.error);
  const RefusalBody = z.object({ error: z.string(), message: z.string().min(1) }).strict();
  const seen = of('http').map((example) => RefusalBody.parse(JSON.parse(example.text)).error);
  expect(new Set(seen)).toEqual(new Set(errors));
  for (const refusal of Object.values(UpgradeError))
    expect(doc).toContain(`| \`${refusal.status}\` | \`${refusal.error}\` |`);
});

test('every error code, close code and close reason is in a table row', () => {
  for (const code of ERROR_CODES) expect(doc).toContain(`| \`${code}\` |`);
  for (const code of CLOSE_CODES) expect(doc).toContain(`| \`${code}\` |`);
  for (const reason of Object.values(CloseReason))
    expect(doc).toMatch(new RegExp(`\\| \`\\d{4}\` \\| \`${reason}\` \\|`));
});

describe('docs/postman.md', () => {
  const guide = readFileSync(resolve(DOC, '..', 'postman.md'), 'utf8');
  // Every frame printed on a line: fenced, after a wscat `> `/`< ` prompt, or inline in backticks.
  const frames = [...guide.matchAll(/\{"type":"[^`\n]*\}(?=`|\n|$)/g)].map((match) => match[0]);
  const mistake = '{"type":"send","to":"bob"}';

  it('prints frames of both directions, each valid as printed', () => {
    expect(frames.length).toBeGreaterThan(15);
    for (const text of frames.filter((frame) => frame !== mistake)) {
      const asClient = parseClientFrame(text);
      const asServer = ServerFrame.safeParse(JSON.parse(text));
      expect({ text, valid: asClient.ok || asServer.success }).toEqual({ text, valid: true });
    }
  });

  it('shows the real answer to its deliberate mistake', () => {
    const result = parseClientFrame(mistake);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(guide).toContain(
      JSON.stringify({ type: 'error', code: result.error.code, message: result.error.message }),
    );
  });
});
