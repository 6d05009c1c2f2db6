/** Parsing untrusted client text into frames: never throws, always says why. */
import { Defaults, ErrorCode } from './codes';
import { CID_PATTERN, ClientFrame, MAX_MESSAGE_ID_LENGTH, ServerFrame, USER_ID_PATTERN } from './frames';

export interface ProtocolError {
  code: ErrorCode;
  message: string;
  /** The refused frame's cid, when it carried a well-formed one. */
  cid?: string;
}

export type ParseResult<T> = { ok: true; frame: T } | { ok: false; error: ProtocolError };

export interface ParseOptions {
  /** Largest `send` body in UTF-8 bytes; larger bodies are `too_large`. */
  maxBytes?: number;
}

export function parseClientFrame(text: string, options: ParseOptions = {}): ParseResult<ClientFrame> {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return refuse(ErrorCode.InvalidJson, 'the frame is not valid JSON');
  }
  const frame = wellFormedFastFrame(raw) ?? ClientFrame.safeParse(raw);
  return checked(raw, frame, options);
}

/**
 * The same contract through zod alone, without the fast path: what `parseClientFrame` must
 * answer for every input (the property tests compare the two).
 */
export function parseClientFrameWithSchema(
  text: string,
  options: ParseOptions = {},
): ParseResult<ClientFrame> {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return refuse(ErrorCode.InvalidJson, 'the frame is not valid JSON');
  }
  return checked(raw, ClientFrame.safeParse(raw), options);
}

type SchemaResult = ReturnType<typeof ClientFrame.safeParse>;

function checked(raw: unknown, parsed: SchemaResult, options: ParseOptions): ParseResult<ClientFrame> {
  if (!parsed.success) {
    return refuse(ErrorCode.InvalidFrame, describeIssue(parsed.error.issues[0]), wellFormedCid(raw));
  }
  const frame = parsed.data;
  const maxBytes = options.maxBytes ?? Defaults.maxBytes;
  // A JS string holds at most 3 UTF-8 bytes per UTF-16 unit, so short bodies skip the byte count.
  if (
    frame.type === 'send' &&
    frame.body.length * 3 > maxBytes &&
    Buffer.byteLength(frame.body, 'utf8') > maxBytes
  ) {
    return refuse(ErrorCode.TooLarge, `body exceeds ${maxBytes} UTF-8 bytes`, wellFormedCid(raw));
  }
  return { ok: true, frame };
}

/**
 * `send` and `ack` are nearly every frame a gateway parses: a well-formed one, with no field
 * beyond the schema's, is recognised by hand (zod costs several µs a frame and allocates an issue
 * list on its way). Anything else, including every malformed frame, goes through zod, which also
 * words the error. Returns the frame as zod would have, or undefined.
 */
function wellFormedFastFrame(raw: unknown): SchemaResult | undefined {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return undefined;
  const fields = raw as Record<string, unknown>;
  if (fields.type === 'send') return fastSend(fields);
  if (fields.type === 'ack') return fastAck(fields);
  return undefined;
}

function fastSend(fields: Record<string, unknown>): SchemaResult | undefined {
  for (const key in fields) {
    if (key !== 'type' && key !== 'to' && key !== 'body' && key !== 'cid') return undefined;
  }
  const { to, body, cid } = fields;
  if (typeof to !== 'string' || !USER_ID_PATTERN.test(to)) return undefined;
  if (typeof body !== 'string' || body.length === 0) return undefined;
  if (cid === undefined) return { success: true, data: { type: 'send', to, body } };
  if (typeof cid !== 'string' || !CID_PATTERN.test(cid)) return undefined;
  return { success: true, data: { type: 'send', to, body, cid } };
}

function fastAck(fields: Record<string, unknown>): SchemaResult | undefined {
  for (const key in fields) {
    if (key !== 'type' && key !== 'ids') return undefined;
  }
  const ids = fields.ids;
  if (!Array.isArray(ids) || ids.length === 0 || ids.length > Defaults.maxAckIds) return undefined;
  const checkedIds: string[] = [];
  for (const id of ids) {
    if (typeof id !== 'string' || id.length === 0 || id.length > MAX_MESSAGE_ID_LENGTH) return undefined;
    checkedIds.push(id);
  }
  return { success: true, data: { type: 'ack', ids: checkedIds } };
}

/** For clients and tests: parse a server frame (throws nothing; unknown frames are refused). */
export function parseServerFrame(text: string): ParseResult<ServerFrame> {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return refuse(ErrorCode.InvalidJson, 'the frame is not valid JSON');
  }
  const parsed = ServerFrame.safeParse(raw);
  return parsed.success
    ? { ok: true, frame: parsed.data }
    : refuse(ErrorCode.InvalidFrame, describeIssue(parsed.error.issues[0]));
}

function refuse<T>(code: ErrorCode, message: string, cid?: string): ParseResult<T> {
  return { ok: false, error: cid === undefined ? { code, message } : { code, message, cid } };
}

function wellFormedCid(raw: unknown): string | undefined {
  if (typeof raw !== 'object' || raw === null || !('cid' in raw)) return undefined;
  const cid: unknown = raw.cid;
  return typeof cid === 'string' && CID_PATTERN.test(cid) ? cid : undefined;
}

function describeIssue(issue: { path: (string | number)[]; message: string } | undefined): string {
  if (!issue) return 'invalid frame';
  const where = issue.path.length > 0 ? issue.path.join('.') : 'frame';
  return `${where}: ${issue.message}`;
}
