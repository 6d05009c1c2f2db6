/**
 * `postbox`: the command-line face of the SDK (libs/client/bin/postbox.js runs this file).
 * Exit codes: 0 done, 1 failed (with a line saying what to do), 2 usage.
 */
import { parseCli, USAGE, UsageError, type CliArgs } from './cli/args';
import { chat, listen, presence, send, token } from './cli/commands';
import { Output } from './cli/output';
import { CliError } from './cli/session';

const COMMANDS: Record<string, (args: CliArgs, out: Output) => Promise<void>> = {
  token,
  send,
  listen,
  chat,
  presence,
};

async function main(argv: string[]): Promise<number> {
  let args: CliArgs;
  try {
    args = parseCli(argv, process.env);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`${error.message === '' ? '' : `postbox: ${error.message}\n\n`}${USAGE}`);
    return error.message === '' ? 0 : 2;
  }
  const command = COMMANDS[args.command];
  if (command === undefined) {
    process.stderr.write(`postbox: unknown command "${args.command}"\n\n${USAGE}`);
    return 2;
  }
  try {
    await command(args, new Output(args.json));
    return 0;
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`postbox: ${error.message}\n\n${USAGE}`);
      return 2;
    }
    const message = error instanceof CliError || error instanceof Error ? error.message : String(error);
    process.stderr.write(`postbox: ${message}\n`);
    return 1;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(
      `postbox: unexpected failure: ${error instanceof Error ? error.stack : String(error)}\n`,
    );
    process.exit(1);
  },
);
