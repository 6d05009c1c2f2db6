/**
 * Mints an HS256 access token for local use and prints only the token.
 * Usage: node -r ts-node/register/transpile-only tools/token.ts <user> (or: make token USER=alice)
 * Secret: $JWT_SECRET, else .run/jwt-secret, the dev secret tools/stack.sh hands to the gateways
 * (created here with the same format when missing). Lifetime: $TTL seconds, default 3600.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { SignJWT } from 'jose';

const RUN_DIR = resolve(__dirname, '..', '.run');

function devSecret(): string {
  const file = join(RUN_DIR, 'jwt-secret');
  if (!existsSync(file)) {
    mkdirSync(RUN_DIR, { recursive: true });
    writeFileSync(file, randomBytes(32).toString('base64').replace(/=+$/, ''), { mode: 0o600 });
  }
  return readFileSync(file, 'utf8').trim();
}

async function main(): Promise<void> {
  const [user] = process.argv.slice(2);
  if (!user) throw new Error('usage: tools/token.ts <user>   (make token USER=alice)');
  const ttl = Number(process.env.TTL ?? '3600');
  if (!Number.isInteger(ttl) || ttl <= 0)
    throw new Error(`TTL must be a positive number of seconds, got "${process.env.TTL}"`);
  const secret = process.env.JWT_SECRET || devSecret();
  const now = Math.floor(Date.now() / 1000);
  const token = await new SignJWT({})
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(user)
    .setIssuedAt(now)
    .setExpirationTime(now + ttl)
    .sign(new TextEncoder().encode(secret));
  process.stdout.write(`${token}\n`);
}

main().catch((error: unknown) => {
  console.error(`token: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
