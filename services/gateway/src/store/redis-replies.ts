/**
 * Parsers for what the Lua scripts and Redis hand back: a trust boundary (another writer, an old
 * script version or a corrupted key could put anything there), so every reply is checked.
 */
import { z } from 'zod';
import type { AcceptResult, RouteClaim, StoredMessage } from './store';

const storedMessageSchema = z.object({
  id: z.string(),
  from: z.string(),
  to: z.string(),
  body: z.string(),
  ts: z.number().int(),
  seq: z.number().int().positive(),
});

const idempotencyRecordSchema = z.object({
  id: z.string(),
  ts: z.number().int(),
  to: z.string(),
  status: z.enum(['pending', 'sent', 'queued']),
});

const acceptReplySchema = z.union([
  z
    .tuple([z.literal('stored'), z.number().int().positive(), z.union([z.literal(0), z.literal(1)])])
    .rest(z.number().int().nonnegative()),
  z.tuple([z.literal('duplicate'), z.string()]),
  z.tuple([z.literal('mailbox_full')]),
]);

const countSchema = z.number().int().nonnegative();
const jsonListSchema = z.array(z.string());

function parseJson<T>(schema: z.ZodType<T>, text: string, what: string): T {
  const parsed = schema.safeParse(JSON.parse(text));
  if (!parsed.success) {
    throw new Error(`postbox store: malformed ${what}: ${parsed.error.message}`);
  }
  return parsed.data;
}

/** `message` is what was sent to the script; the reply only adds seq and presence. */
export function parseAcceptReply(reply: unknown, message: Omit<StoredMessage, 'seq'>): AcceptResult {
  const stored = storedReply(reply);
  if (stored !== undefined) {
    const [seq, online, routes] = stored;
    return { kind: 'stored', message: { ...message, seq }, online, routes };
  }
  const parsed = acceptReplySchema.parse(reply);
  switch (parsed[0]) {
    case 'stored': {
      const [, seq, online, ...routes] = parsed;
      return { kind: 'stored', message: { ...message, seq }, online: online === 1, routes };
    }
    case 'duplicate':
      return { kind: 'duplicate', ...parseJson(idempotencyRecordSchema, parsed[1], 'idempotency record') };
    case 'mailbox_full':
      return { kind: 'mailbox_full' };
  }
}

export function parseMessage(reply: unknown): StoredMessage | undefined {
  return reply === null
    ? undefined
    : parseJson(storedMessageSchema, z.string().parse(reply), 'stored message');
}

export function parseMessages(reply: unknown): StoredMessage[] {
  return jsonListSchema.parse(reply).map((text) => parseJson(storedMessageSchema, text, 'stored message'));
}

export function parseCount(reply: unknown): number {
  return countSchema.parse(reply);
}

const openSessionSchema = z.number().int().gte(-1);

/** open-session.lua: the user's current seq, or -1 when the user holds the maximum of sessions. */
export function parseOpenSessionReply(reply: unknown): number {
  return openSessionSchema.parse(reply);
}

const routeClaimSchema = z.tuple([z.number().int().nonnegative(), z.union([z.literal(0), z.literal(1)])]);

export function parseRouteClaim(reply: unknown): RouteClaim {
  const [route, exclusive] = routeClaimSchema.parse(reply);
  return { route, exclusive: exclusive === 1 };
}

/**
 * The common reply, `['stored', seq, 0|1, route…]`, checked by hand: zod's union tries (and words
 * an issue for) each other branch first, several µs and allocations per message. Anything else,
 * including every malformed reply, goes through the schema, which also words the error.
 */
function storedReply(reply: unknown): [number, boolean, number[]] | undefined {
  if (!Array.isArray(reply) || reply.length < 3 || reply[0] !== 'stored') return undefined;
  const [, seq, online] = reply as unknown[];
  if (typeof seq !== 'number' || !Number.isInteger(seq) || seq <= 0) return undefined;
  if (online !== 0 && online !== 1) return undefined;
  const routes: number[] = [];
  for (let i = 3; i < reply.length; i += 1) {
    const route: unknown = reply[i];
    if (typeof route !== 'number' || !Number.isInteger(route) || route < 0) return undefined;
    routes.push(route);
  }
  return [seq, online === 1, routes];
}
