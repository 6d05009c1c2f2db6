/**
 * Mints an HS256 access token for local use and prints only the token.
 * Usage: node -r ts-node/register/transpile-only tools/token.ts <user> (or: make token USER=alice)
 * Secret: $JWT_SECRET, else .run/jwt-secret, the dev secret tools/stack.sh hands to the gateways
 * (created here with the same format when missing). Lifetime: $TTL seconds, default 3600.
 * The `postbox` CLI (libs/client) imports mintDevToken from here.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { SignJWT } from 'jose';
import { UserId } from '@postbox/protocol';

const RUN_DIR = resolve(__dirname, '..', '.run');

function devSecret(): string {
  const file = join(RUN_DIR, 'jwt-secret');
  if (!existsSync(file)) {
    mkdirSync(RUN_DIR, { recursive: true });
    writeFileSync(file, randomBytes(32).toString('base64').replace(/=+$/, ''), { mode: 0o600 });
  }
  return readFileSync(file, 'utf8').trim();
}

/**
 * Refuses what the gateway would refuse: a token whose subject is not a valid user id (the
 * protocol's rule) is answered with 401, so it is not minted at all.
 */
export function checkUserId(user: string): void {
  const parsed = UserId.safeParse(user);
  if (!parsed.success) {
    const rule = parsed.error.issues[0]?.message ?? 'invalid user id';
    throw new Error(`"${user}" is not a valid user id: ${rule}`);
  }
}

/** A dev token for `user`, valid `ttlSeconds`, signed with $JWT_SECRET or the stack's dev secret. */
export async function mintDevToken(user: string, ttlSeconds = 3600): Promise<string> {
  checkUserId(user);
  if (!Number.isInteger(ttlSeconds) || ttlSeconds <= 0)
    throw new Error(`the lifetime must be a positive number of seconds, got "${ttlSeconds}"`);
  const secret = process.env.JWT_SECRET || devSecret();
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({})
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(user)
    .setIssuedAt(now)
    .setExpirationTime(now + ttlSeconds)
    .sign(new TextEncoder().encode(secret));
}

async function main(): Promise<void> {
  const [user] = process.argv.slice(2);
  if (user === undefined) throw new Error('usage: tools/token.ts <user>   (make token USER=alice)');
  const ttl = Number(process.env.TTL ?? '3600');
  if (!Number.isInteger(ttl) || ttl <= 0)
    throw new Error(`TTL must be a positive number of seconds, got "${process.env.TTL}"`);
  process.stdout.write(`${await mintDevToken(user, ttl)}\n`);
}

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(`token: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  });
}
