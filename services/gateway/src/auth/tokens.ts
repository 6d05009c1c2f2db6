/**
 * Verifies the upgrade's JWT: algorithms pinned to the configured key (so `alg: none` and
 * HS/RS confusion are refused), `exp` required, leeway at most 5 s, `sub` a valid user id.
 */
import { createPublicKey, createSecretKey, type KeyObject } from 'node:crypto';
import { errors, jwtVerify, type JWTVerifyOptions } from 'jose';
import { Defaults, USER_ID_PATTERN } from '@postbox/protocol';

export interface TokenSettings {
  secret?: string;
  publicKeyPem?: string;
  algorithms?: readonly string[];
  issuer?: string;
  audience?: string;
}

export interface VerifiedToken {
  user: string;
  /** Expiry, milliseconds since the epoch. */
  expiresAt: number;
}

export type TokenCheck = { ok: true; token: VerifiedToken } | { ok: false; reason: string };

export class TokenVerifier {
  private readonly keys: { key: KeyObject; options: JWTVerifyOptions }[] = [];

  constructor(settings: TokenSettings) {
    const shared = { issuer: settings.issuer, audience: settings.audience, requiredClaims: ['exp', 'sub'] };
    const clockTolerance = Defaults.clockLeewaySeconds;
    if (settings.secret) {
      this.keys.push({
        key: createSecretKey(Buffer.from(settings.secret, 'utf8')),
        options: { ...shared, clockTolerance, algorithms: ['HS256'] },
      });
    }
    if (settings.publicKeyPem) {
      const key = createPublicKey(settings.publicKeyPem);
      const algorithms = settings.algorithms?.length ? [...settings.algorithms] : defaultAlgorithms(key);
      this.keys.push({ key, options: { ...shared, clockTolerance, algorithms } });
    }
    if (this.keys.length === 0) throw new Error('TokenVerifier needs a secret or a public key');
  }

  async verify(token: string): Promise<TokenCheck> {
    if (token.length === 0) return { ok: false, reason: 'empty token' };
    let lastReason = 'invalid token';
    for (const { key, options } of this.keys) {
      try {
        const { payload } = await jwtVerify(token, key, options);
        if (typeof payload.sub !== 'string' || !USER_ID_PATTERN.test(payload.sub)) {
          return { ok: false, reason: 'the token sub is not a valid user id' };
        }
        if (typeof payload.exp !== 'number') return { ok: false, reason: 'the token has no exp' };
        return { ok: true, token: { user: payload.sub, expiresAt: payload.exp * 1000 } };
      } catch (error) {
        lastReason = describe(error);
        // An expired or malformed token fails the same way under every key; stop early.
        if (error instanceof errors.JWTExpired || error instanceof errors.JWTClaimValidationFailed) break;
      }
    }
    return { ok: false, reason: lastReason };
  }
}

function defaultAlgorithms(key: KeyObject): string[] {
  switch (key.asymmetricKeyType) {
    case 'rsa':
      return ['RS256'];
    case 'ec':
      return ['ES256'];
    case 'ed25519':
      return ['EdDSA'];
    default:
      throw new Error(`JWT_PUBLIC_KEY: unsupported key type ${String(key.asymmetricKeyType)}`);
  }
}

function describe(error: unknown): string {
  if (error instanceof errors.JWTExpired) return 'the token has expired';
  if (error instanceof errors.JWTClaimValidationFailed)
    return `the token's ${error.claim} claim is not acceptable`;
  if (error instanceof errors.JOSEAlgNotAllowed) return 'the token algorithm is not allowed';
  if (error instanceof errors.JWSSignatureVerificationFailed) return 'the token signature is invalid';
  if (error instanceof errors.JWTInvalid || error instanceof errors.JWSInvalid)
    return 'the token is malformed';
  return 'invalid token';
}

/**
 * docs/protocol.md: a Bearer header, when present, is the credential (valid or not); a header with
 * another scheme counts as absent; otherwise `?token=`.
 */
export function pickCredential(authorization: string, queryToken: string): string | undefined {
  const match = /^bearer(?:\s+(.*))?$/i.exec(authorization.trim());
  if (match) return (match[1] ?? '').trim();
  return queryToken.length > 0 ? queryToken : undefined;
}
