import pino, { type Logger, type LoggerOptions } from 'pino';

export type { Logger };

/**
 * Credentials never reach the log: headers, tokens and query strings (which may carry `?token=`)
 * are censored wherever they appear in a logged object.
 */
export const REDACT_PATHS = [
  'authorization',
  'token',
  'query',
  'url',
  '*.authorization',
  '*.token',
  '*.query',
  '*.url',
  'headers.authorization',
  'req.headers.authorization',
  'req.url',
  'req.query',
  'JWT_SECRET',
  '*.JWT_SECRET',
];

export interface LoggerSettings {
  name: string;
  level?: string;
  /** Pretty output for people; JSON lines otherwise (production, files, CI). */
  pretty?: boolean;
}

export function createLogger(settings: LoggerSettings, destination?: pino.DestinationStream): Logger {
  const options: LoggerOptions = {
    name: settings.name,
    level: settings.level ?? 'info',
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
  };
  const pretty = settings.pretty ?? (process.stdout.isTTY === true && process.env.NODE_ENV !== 'production');
  if (pretty && destination === undefined) {
    return pino({ ...options, transport: { target: 'pino-pretty', options: { colorize: true } } });
  }
  return destination === undefined ? pino(options) : pino(options, destination);
}
