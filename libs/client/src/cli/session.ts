/** Opening an SDK client for a CLI command, and errors that say what to do about them. */
import { connect, type PostboxClient } from '../client';
import { PostboxError } from '../errors';
import { mintDevToken } from '../../../../tools/token';
import type { CliArgs } from './args';

/** A failure the CLI reports in one line, then exits 1. */
export class CliError extends Error {}

export async function tokenFor(args: CliArgs, user: string): Promise<string> {
  return args.token ?? mintDevToken(user, args.ttl);
}

/**
 * Connects as `user` and waits for the session. One-shot commands give up after a few failed
 * attempts; once welcomed, `listen` and `chat` keep reconnecting like any SDK client.
 */
export async function openClient(args: CliArgs, user: string): Promise<PostboxClient> {
  const client = connect(args.url, await tokenFor(args, user), {
    backoff: { baseMs: 200, maxMs: 5_000 },
    maxAttemptsBeforeWelcome: 3,
  });
  let fatal: PostboxError | undefined;
  const off = client.on('error', (error) => (fatal = error));
  try {
    await client.opened();
    return client;
  } catch (error) {
    throw explain(fatal ?? error, args.url);
  } finally {
    off();
  }
}

export function explain(error: unknown, url: string): CliError {
  if (!(error instanceof PostboxError))
    return new CliError(error instanceof Error ? error.message : String(error));
  switch (error.code) {
    case 'unauthorized':
      return new CliError(
        `token refused (${error.message}): check JWT_SECRET matches the gateways' ` +
          '(make up signs with .run/jwt-secret; pass --token to use your own)',
      );
    case 'forbidden':
      return new CliError(`connection refused by the Origin allowlist: ${error.message}`);
    case 'unreachable':
      return new CliError(
        `cannot connect to ${url}: is the stack running? start it with \`make up\` (${error.message})`,
      );
    default:
      return new CliError(`${error.code}: ${error.message}`);
  }
}
