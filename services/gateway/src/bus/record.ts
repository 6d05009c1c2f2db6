/**
 * The wire form of a bus record: key = recipient (one recipient's messages share a partition and
 * so keep their order), value = the StoredMessage as JSON. Records come from the network, so they
 * are parsed with zod, never cast.
 */
import { z } from 'zod';
import type { StoredMessage } from '../store/store';

const storedMessageSchema = z.object({
  id: z.string(),
  from: z.string(),
  to: z.string(),
  body: z.string(),
  ts: z.number(),
  seq: z.number().int(),
}) satisfies z.ZodType<StoredMessage>;

export interface OutboundRecord {
  key: string;
  value: string;
}

/** Serialises once; the string is what the producer sends. */
export function encodeRecord(message: StoredMessage): OutboundRecord {
  return { key: message.to, value: JSON.stringify(message) };
}

export type DecodeResult = { ok: true; message: StoredMessage } | { ok: false; reason: string };

export function decodeRecord(value: Buffer | null): DecodeResult {
  if (value === null) return { ok: false, reason: 'empty value' };
  let json: unknown;
  try {
    json = JSON.parse(value.toString('utf8'));
  } catch {
    return { ok: false, reason: 'not JSON' };
  }
  const parsed = storedMessageSchema.safeParse(json);
  if (!parsed.success) return { ok: false, reason: parsed.error.issues[0]?.message ?? 'invalid' };
  return { ok: true, message: parsed.data };
}
