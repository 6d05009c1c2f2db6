/**
 * The Lua scripts of RedisStore, registered on the caller's ioredis client. ioredis runs them with
 * EVALSHA and falls back to EVAL once per connection after a NOSCRIPT (e.g. after a Redis restart),
 * so each message costs one round trip. The module augmentation gives the commands typed
 * signatures; their replies stay `unknown` until redis-replies.ts parses them.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Redis, Result } from 'ioredis';

type Arg = string | number;

declare module 'ioredis' {
  interface RedisCommander<Context> {
    postboxAccept(...keysAndArgs: Arg[]): Result<unknown, Context>;
    postboxSettleStatus(...keysAndArgs: Arg[]): Result<unknown, Context>;
    postboxReadMailbox(...keysAndArgs: Arg[]): Result<unknown, Context>;
    postboxAck(...keysAndArgs: Arg[]): Result<unknown, Context>;
    postboxOpenSession(...keysAndArgs: Arg[]): Result<unknown, Context>;
    postboxRenewSession(...keysAndArgs: Arg[]): Result<unknown, Context>;
    postboxPresence(...keysAndArgs: Arg[]): Result<unknown, Context>;
    postboxClaimRoute(...keysAndArgs: Arg[]): Result<unknown, Context>;
  }
}

const scripts = [
  { name: 'postboxAccept', file: 'accept.lua', numberOfKeys: 5 },
  { name: 'postboxSettleStatus', file: 'settle-status.lua', numberOfKeys: 1 },
  { name: 'postboxReadMailbox', file: 'read-mailbox.lua', numberOfKeys: 2 },
  { name: 'postboxAck', file: 'ack.lua', numberOfKeys: 2 },
  { name: 'postboxOpenSession', file: 'open-session.lua', numberOfKeys: 2 },
  { name: 'postboxRenewSession', file: 'renew-session.lua', numberOfKeys: 1 },
  { name: 'postboxPresence', file: 'presence.lua', numberOfKeys: 1 },
  { name: 'postboxClaimRoute', file: 'claim-route.lua', numberOfKeys: 1 },
] as const;

/** Idempotent: redefining a command with the same script on a shared client is harmless. */
export function defineScripts(redis: Redis): void {
  for (const { name, file, numberOfKeys } of scripts) {
    const lua = fs.readFileSync(path.join(__dirname, file), 'utf8');
    redis.defineCommand(name, { numberOfKeys, lua });
  }
}
