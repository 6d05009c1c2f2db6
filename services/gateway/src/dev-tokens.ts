/**
 * POST /dev/token, only with DEV_TOKENS=1: mints a 1 h HS256 JWT for any valid user id, signed
 * with JWT_SECRET, so the web chat page (web/) can sign in without an identity provider.
 * Whoever reaches it can act as any user, hence off by default and a loud warning when on.
 * The token is never logged.
 */
import { SignJWT } from 'jose';
import type { GatewayConfig } from '@postbox/config';
import type { Logger } from '@postbox/logger';
import { USER_ID_PATTERN } from '@postbox/protocol';
import type { HttpReply } from './transport/uws';

export const DEV_TOKEN_PATH = '/dev/token';
export const DEV_TOKEN_TTL_SECONDS = 3600;

type DevTokenConfig = Pick<GatewayConfig, 'DEV_TOKENS' | 'JWT_SECRET' | 'JWT_ISSUER' | 'JWT_AUDIENCE'>;

const json = (status: number, body: unknown): HttpReply => ({
  status,
  contentType: 'application/json',
  body: JSON.stringify(body),
});

const USAGE = 'expected a JSON body {"user":"<id>"}: 1-128 characters of A-Z a-z 0-9 . _ @ : -';

/** The requested user id, or undefined when the body is not `{"user": "<valid id>"}`. */
function requestedUser(body: string): string | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  const user: unknown = Reflect.get(parsed, 'user');
  return typeof user === 'string' && USER_ID_PATTERN.test(user) ? user : undefined;
}

/** The POST routes to serve: none unless DEV_TOKENS is on. Throws when it is on without JWT_SECRET. */
export function devTokenRoutes(
  config: DevTokenConfig,
  logger: Logger,
): Record<string, (body: string) => Promise<HttpReply>> {
  if (!config.DEV_TOKENS) return {};
  if (!config.JWT_SECRET) {
    throw new Error('DEV_TOKENS=1 needs JWT_SECRET: dev tokens are HS256, signed with that secret');
  }
  logger.warn(
    `DEV_TOKENS IS ON: POST ${DEV_TOKEN_PATH} hands a token for ANY user to anyone who asks. ` +
      'For local development only; never enable it where real users connect.',
  );
  const key = new TextEncoder().encode(config.JWT_SECRET);
  const mint = async (body: string): Promise<HttpReply> => {
    const user = requestedUser(body);
    if (user === undefined) return json(400, { error: 'invalid_request', message: USAGE });
    const now = Math.floor(Date.now() / 1000);
    const jwt = new SignJWT({})
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setSubject(user)
      .setIssuedAt(now)
      .setExpirationTime(now + DEV_TOKEN_TTL_SECONDS);
    // The gateway checks iss/aud when configured; a dev token must pass its own gateway.
    if (config.JWT_ISSUER) jwt.setIssuer(config.JWT_ISSUER);
    if (config.JWT_AUDIENCE) jwt.setAudience(config.JWT_AUDIENCE);
    const token = await jwt.sign(key);
    logger.info({ user, ttlSeconds: DEV_TOKEN_TTL_SECONDS }, 'dev token minted');
    return json(200, { token, user, expiresAt: (now + DEV_TOKEN_TTL_SECONDS) * 1000 });
  };
  return { [DEV_TOKEN_PATH]: mint };
}
