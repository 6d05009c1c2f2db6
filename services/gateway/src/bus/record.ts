/**
 * The wire form of a bus record: key = recipient, value = the StoredMessage as JSON, produced to
 * the partition of each route that holds a session of the recipient (a route's records keep the
 * order they were published in; live.ts orders by seq what several gateways publish). Records come from the network, so they
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
  /** The route (partition) it is produced to; absent, the producer picks one by key. */
  partition?: number;
}

/** One record keyed by recipient, its partition left to the producer's partitioner. */
export function encodeRecord(message: StoredMessage): OutboundRecord {
  return { key: message.to, value: JSON.stringify(message) };
}

/** Serialises once, whatever the number of routes; the string is what the producer sends. */
export function encodeRecords(message: StoredMessage, partitions: readonly number[]): OutboundRecord[] {
  const value = JSON.stringify(message);
  return partitions.map((partition) => ({ key: message.to, value, partition }));
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
  const message = wellFormed(json);
  if (message !== undefined) return { ok: true, message };
  const parsed = storedMessageSchema.safeParse(json);
  if (!parsed.success) return { ok: false, reason: parsed.error.issues[0]?.message ?? 'invalid' };
  return { ok: true, message: parsed.data };
}

/** Every record a gateway reads passes here: checked by hand, zod only for the reason of a bad one. */
function wellFormed(json: unknown): StoredMessage | undefined {
  if (typeof json !== 'object' || json === null) return undefined;
  const { id, from, to, body, ts, seq } = json as Record<string, unknown>;
  if (typeof id !== 'string' || typeof from !== 'string' || typeof to !== 'string') return undefined;
  if (typeof body !== 'string' || typeof ts !== 'number' || typeof seq !== 'number') return undefined;
  if (!Number.isInteger(seq)) return undefined;
  return { id, from, to, body, ts, seq };
}
