/** zod schemas of every frame in docs/protocol.md v1, both directions. */
import { z } from 'zod';
import { Defaults, ERROR_CODES, type ErrorCode } from './codes';

export const USER_ID_PATTERN = /^[A-Za-z0-9._@:-]{1,128}$/;
export const CID_PATTERN = /^[A-Za-z0-9._:-]{1,64}$/;

export const UserId = z
  .string()
  .regex(USER_ID_PATTERN, 'a user id is 1-128 characters of A-Z a-z 0-9 . _ @ : -');
export const Cid = z.string().regex(CID_PATTERN, 'a cid is 1-64 characters of A-Z a-z 0-9 . _ : -');
export const MAX_MESSAGE_ID_LENGTH = 64;
const MessageId = z.string().min(1).max(MAX_MESSAGE_ID_LENGTH);

// Client → server. Unknown fields are stripped (zod's default), so a client-supplied `from` has no effect.
export const SendFrame = z.object({
  type: z.literal('send'),
  to: UserId,
  body: z.string().min(1, 'body must not be empty'),
  cid: Cid.optional(),
});
export const AckFrame = z.object({
  type: z.literal('ack'),
  ids: z.array(MessageId).min(1).max(Defaults.maxAckIds),
});
export const PresenceQueryFrame = z.object({
  type: z.literal('presence'),
  users: z.array(UserId).min(1).max(Defaults.maxPresenceUsers),
});
export const PingFrame = z.object({ type: z.literal('ping') });

export const ClientFrame = z.discriminatedUnion('type', [SendFrame, AckFrame, PresenceQueryFrame, PingFrame]);
export type SendFrame = z.infer<typeof SendFrame>;
export type AckFrame = z.infer<typeof AckFrame>;
export type PresenceQueryFrame = z.infer<typeof PresenceQueryFrame>;
export type PingFrame = z.infer<typeof PingFrame>;
export type ClientFrame = z.infer<typeof ClientFrame>;

// Server → client.
export const DeliveryStatus = z.enum(['sent', 'queued']);
export type DeliveryStatus = z.infer<typeof DeliveryStatus>;

export const WelcomeFrame = z.object({
  type: z.literal('welcome'),
  user: UserId,
  session: z.string(),
  gateway: z.string(),
  maxBytes: z.number().int().positive(),
  maxFrameBytes: z.number().int().positive(),
});
export const AcceptedFrame = z.object({
  type: z.literal('accepted'),
  cid: Cid.optional(),
  id: MessageId,
  ts: z.number().int(),
  status: DeliveryStatus,
});
export const MessageFrame = z.object({
  type: z.literal('message'),
  id: MessageId,
  from: UserId,
  to: UserId,
  body: z.string(),
  ts: z.number().int(),
});
export const PresenceAnswerFrame = z.object({
  type: z.literal('presence'),
  users: z.record(z.boolean()),
});
export const SyncedFrame = z.object({ type: z.literal('synced') });
export const PongFrame = z.object({ type: z.literal('pong'), ts: z.number().int() });
export const ErrorFrame = z.object({
  type: z.literal('error'),
  code: z.enum(ERROR_CODES as [ErrorCode, ...ErrorCode[]]),
  message: z.string(),
  cid: Cid.optional(),
  /** On `rate_limited` and `unavailable`: wait at least this long before retrying (docs/protocol.md, Overload). */
  retryAfterMs: z.number().int().positive().optional(),
});

export const ServerFrame = z.discriminatedUnion('type', [
  WelcomeFrame,
  AcceptedFrame,
  MessageFrame,
  PresenceAnswerFrame,
  SyncedFrame,
  PongFrame,
  ErrorFrame,
]);
export type WelcomeFrame = z.infer<typeof WelcomeFrame>;
export type AcceptedFrame = z.infer<typeof AcceptedFrame>;
export type MessageFrame = z.infer<typeof MessageFrame>;
export type PresenceAnswerFrame = z.infer<typeof PresenceAnswerFrame>;
export type SyncedFrame = z.infer<typeof SyncedFrame>;
export type PongFrame = z.infer<typeof PongFrame>;
export type ErrorFrame = z.infer<typeof ErrorFrame>;
export type ServerFrame = z.infer<typeof ServerFrame>;
