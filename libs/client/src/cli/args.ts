/** The CLI's command line, parsed with node's util.parseArgs: one shape for every command. */
import { parseArgs } from 'node:util';

export const DEFAULT_URL = 'ws://127.0.0.1:8080/ws';

export const USAGE = `usage: postbox <command> [options]

  token <user> [--ttl 3600]              print a dev JWT (HS256, $JWT_SECRET or .run/jwt-secret)
  send --as alice --to bob "hi"          send one message; prints: accepted <id> (sent|queued)
  listen --as bob                        print messages as they arrive and ack them (Ctrl-C quits)
  chat --as alice --with bob             interactive: your lines are sent, theirs printed
  presence bob carol [--as cli]          who is online

options:
  --url <ws url>     gateway or nginx WebSocket URL (default ${DEFAULT_URL}, or $POSTBOX_URL)
  --token <jwt>      use this token instead of minting one from the dev secret
  --ttl <seconds>    lifetime of a minted token (default 3600)
  --json             one JSON object per line on stdout, for scripts
`;

export interface CliArgs {
  command: string;
  positionals: string[];
  as?: string;
  to?: string;
  with?: string;
  url: string;
  token?: string;
  ttl: number;
  json: boolean;
}

export class UsageError extends Error {}

export function parseCli(argv: string[], env: NodeJS.ProcessEnv): CliArgs {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        as: { type: 'string' },
        to: { type: 'string' },
        with: { type: 'string' },
        url: { type: 'string' },
        token: { type: 'string' },
        ttl: { type: 'string' },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  const { values, positionals } = parsed;
  const [command, ...rest] = positionals;
  if (values.help === true || command === undefined || command === 'help') throw new UsageError('');
  const ttl = Number(values.ttl ?? '3600');
  if (!Number.isInteger(ttl) || ttl <= 0)
    throw new UsageError(`--ttl must be a positive number of seconds, got "${values.ttl}"`);
  return {
    command,
    positionals: rest,
    as: values.as,
    to: values.to,
    with: values.with,
    url: values.url ?? env.POSTBOX_URL ?? DEFAULT_URL,
    token: values.token,
    ttl,
    json: values.json === true,
  };
}

/** The value of a required option, or a usage error naming it. */
export function required(value: string | undefined, option: string, command: string): string {
  if (value === undefined || value === '') throw new UsageError(`${command} needs ${option}`);
  return value;
}
