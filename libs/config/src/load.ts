import { z } from 'zod';

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
  }
}

/**
 * Parses `env` with `schema` once, at startup. Every problem names the variable and the
 * expected form, so a bad deployment fails fast with a message that says what to fix.
 */
export function loadConfig<S extends z.ZodTypeAny>(
  schema: S,
  env: Record<string, string | undefined> = process.env,
): Readonly<z.infer<S>> {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((issue) => `${issue.path.join('.') || '(env)'}: ${issue.message}`),
    );
  }
  return deepFreeze(parsed.data);
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const inner of Object.values(value)) deepFreeze(inner);
  }
  return value;
}

/** Environment helpers: each describes its expected form in its error message. */
export const env = {
  int(defaultValue: number, min = 0, max = Number.MAX_SAFE_INTEGER) {
    return z
      .string()
      .optional()
      .transform((raw, ctx) => {
        if (raw === undefined || raw === '') return defaultValue;
        const value = Number(raw);
        if (!Number.isInteger(value) || value < min || value > max) {
          ctx.addIssue({
            code: 'custom',
            message: `expected an integer from ${min} to ${max}, got "${raw}"`,
          });
          return z.NEVER;
        }
        return value;
      });
  },
  bool(defaultValue: boolean) {
    return z
      .string()
      .optional()
      .transform((raw, ctx) => {
        if (raw === undefined || raw === '') return defaultValue;
        if (['1', 'true', 'yes', 'on'].includes(raw.toLowerCase())) return true;
        if (['0', 'false', 'no', 'off'].includes(raw.toLowerCase())) return false;
        ctx.addIssue({ code: 'custom', message: `expected 1/0 or true/false, got "${raw}"` });
        return z.NEVER;
      });
  },
  list() {
    return z
      .string()
      .optional()
      .transform((raw) =>
        (raw ?? '')
          .split(',')
          .map((item) => item.trim())
          .filter((item) => item.length > 0),
      );
  },
  optionalString() {
    return z
      .string()
      .optional()
      .transform((raw) => (raw === undefined || raw === '' ? undefined : raw));
  },
};
