/**
 * Tokens from the gateways' development endpoint (POST /dev/token, served only with
 * DEV_TOKENS=1). A real deployment would get them from its own identity provider instead.
 */
export class DevTokenError extends Error {}

export interface CachedToken {
  token: string;
  expiresAt: number;
}

/** Refetch a little before expiry, so a reconnect never presents a token about to lapse. */
const REFRESH_MARGIN_MS = 60_000;

function field(body: unknown, name: string): unknown {
  return typeof body === 'object' && body !== null ? Reflect.get(body, name) : undefined;
}

export async function fetchToken(user: string): Promise<CachedToken> {
  let response: Response;
  try {
    response = await fetch('/dev/token', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ user }),
    });
  } catch {
    throw new DevTokenError('the server does not answer; is the stack up (make up)?');
  }
  if (response.status === 404)
    throw new DevTokenError('development sign-in is off: start the gateways with DEV_TOKENS=1');
  const body: unknown = await response.json().catch(() => undefined);
  const token = field(body, 'token');
  if (!response.ok || typeof token !== 'string') {
    const message = field(body, 'message');
    throw new DevTokenError(typeof message === 'string' ? message : `sign-in failed (${response.status})`);
  }
  const expiresAt = field(body, 'expiresAt');
  return { token, expiresAt: typeof expiresAt === 'number' ? expiresAt : Date.now() + REFRESH_MARGIN_MS };
}

/** A token source for `connect()`: the cached token while it is fresh, else a new one. */
export function devTokenSource(user: string, first: CachedToken): () => Promise<string> {
  let current = first;
  return async () => {
    if (current.expiresAt - Date.now() < REFRESH_MARGIN_MS) current = await fetchToken(user);
    return current.token;
  };
}
