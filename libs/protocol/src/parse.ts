/** Parsing untrusted client text into frames: never throws, always says why. */
import { Defaults, ErrorCode } from './codes';
import { CID_PATTERN, ClientFrame, ServerFrame } from './frames';

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
  const cid = wellFormedCid(raw);
  const parsed = ClientFrame.safeParse(raw);
  if (!parsed.success) {
    return refuse(ErrorCode.InvalidFrame, describeIssue(parsed.error.issues[0]), cid);
  }
  const frame = parsed.data;
  const maxBytes = options.maxBytes ?? Defaults.maxBytes;
  // A JS string holds at most 3 UTF-8 bytes per UTF-16 unit, so short bodies skip the byte count.
  if (
    frame.type === 'send' &&
    frame.body.length * 3 > maxBytes &&
    Buffer.byteLength(frame.body, 'utf8') > maxBytes
  ) {
    return refuse(ErrorCode.TooLarge, `body exceeds ${maxBytes} UTF-8 bytes`, cid);
  }
  return { ok: true, frame };
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
