/** JWTs for tests, signed with the secret the test gateways are started with. */
import { SignJWT } from 'jose';

export const TEST_JWT_SECRET = 'postbox-test-secret-0123456789abcdef-0123456789';
const key = new TextEncoder().encode(TEST_JWT_SECRET);

export interface TokenOptions {
  /** Seconds from now; negative for an expired token. */
  expiresIn?: number;
  secret?: string;
  withoutExp?: boolean;
}

export async function tokenFor(user: string, options: TokenOptions = {}): Promise<string> {
  const jwt = new SignJWT({}).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).setSubject(user).setIssuedAt();
  if (!options.withoutExp) jwt.setExpirationTime(Math.floor(Date.now() / 1000) + (options.expiresIn ?? 3600));
  return jwt.sign(options.secret === undefined ? key : new TextEncoder().encode(options.secret));
}

/** An unsigned `alg: none` token, which must be refused. */
export function unsignedToken(user: string): string {
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part({ alg: 'none', typ: 'JWT' })}.${part({ sub: user, exp: Math.floor(Date.now() / 1000) + 3600 })}.`;
}
