/** The CLI's commands: each connects through the SDK, does one job, and closes cleanly. */
import { createInterface } from 'node:readline';
import type { PostboxClient } from '../client';
import type { Message } from '../inbox';
import { required, UsageError, type CliArgs } from './args';
import type { Output } from './output';
import { CliError, explain, openClient, tokenFor } from './session';

export async function token(args: CliArgs, out: Output): Promise<void> {
  const user = required(args.positionals[0], 'a user: postbox token <user>', 'token');
  const jwt = await tokenFor({ ...args, token: undefined }, user);
  out.emit({ type: 'token', user, ttl: args.ttl, token: jwt }, jwt);
}

export async function send(args: CliArgs, out: Output): Promise<void> {
  const as = required(args.as, '--as <sender>', 'send');
  const to = required(args.to, '--to <recipient>', 'send');
  const body = required(args.positionals.join(' '), 'a message: postbox send --as a --to b "hi"', 'send');
  const client = await openClient(args, as);
  try {
    const accepted = await client.send(to, body);
    out.emit({ type: 'accepted', to, ...accepted }, `accepted ${accepted.id} (${accepted.status})`);
  } catch (error) {
    throw explain(error, args.url);
  } finally {
    await client.close();
  }
}

export async function presence(args: CliArgs, out: Output): Promise<void> {
  if (args.positionals.length === 0) throw new UsageError('presence needs users: postbox presence bob carol');
  const client = await openClient(args, args.as ?? 'cli');
  try {
    const users = await client.presence(args.positionals);
    const lines = args.positionals.map((user) => `${user} ${users[user] === true ? 'online' : 'offline'}`);
    out.emit({ type: 'presence', users }, lines.join('\n'));
  } catch (error) {
    throw explain(error, args.url);
  } finally {
    await client.close();
  }
}

export async function listen(args: CliArgs, out: Output): Promise<void> {
  const as = required(args.as, '--as <user>', 'listen');
  const client = await openClient(args, as);
  reportConnection(client, out);
  out.status(`listening as ${as} on ${client.welcome?.gateway ?? '?'} (Ctrl-C to quit)`);
  client.onMessage((message) => out.message(message));
  await untilInterruptedOrClosed(client, args.url);
}

export async function chat(args: CliArgs, out: Output): Promise<void> {
  const as = required(args.as, '--as <user>', 'chat');
  const peer = required(args.with, '--with <user>', 'chat');
  const client = await openClient(args, as);
  reportConnection(client, out);
  const online = await client.presence([peer]).catch(() => ({}) as Record<string, boolean>);
  out.status(
    `chatting as ${as} with ${peer} (${online[peer] === true ? 'online' : 'offline'}); Ctrl-D or Ctrl-C quits`,
  );
  const rl = createInterface({ input: process.stdin, output: process.stderr, prompt: `${as}> ` });
  const print = (write: () => void): void => {
    // Keep what the user is typing intact: clear the prompt line, print, redraw the prompt.
    process.stderr.write('\r\x1b[K');
    write();
    rl.prompt(true);
  };
  client.onMessage((message: Message) => print(() => out.message(message)));
  const pending = new Set<Promise<void>>();
  rl.on('line', (line) => {
    const body = line.trim();
    if (body === '') return rl.prompt();
    const sending = client.send(peer, body).then(
      (accepted) =>
        print(() =>
          out.emit(
            { type: 'accepted', to: peer, ...accepted },
            `  ✓ ${accepted.status === 'sent' ? 'delivered live' : `queued (${peer} is offline)`}`,
          ),
        ),
      (error: unknown) => print(() => out.status(`  ✗ not sent: ${explain(error, args.url).message}`)),
    );
    pending.add(sending);
    void sending.finally(() => pending.delete(sending));
    rl.prompt();
  });
  rl.prompt();
  // Ctrl-D (end of input, or a piped script) waits for the answers to what was typed.
  const endOfInput = new Promise((resolve) => rl.once('close', resolve)).then(() =>
    Promise.allSettled(pending),
  );
  await untilInterruptedOrClosed(client, args.url, endOfInput);
  rl.close();
}

function reportConnection(client: PostboxClient, out: Output): void {
  client.on('reconnecting', ({ attempt, delayMs }) =>
    out.status(`connection lost; reconnecting in ${delayMs} ms (attempt ${attempt})`),
  );
  client.on('open', (welcome) => out.status(`reconnected (${welcome.gateway})`));
}

/** Resolves on Ctrl-C/SIGTERM (or `also`) after a clean close; rejects if the client ends on its own. */
async function untilInterruptedOrClosed(
  client: PostboxClient,
  url: string,
  also?: Promise<unknown>,
): Promise<void> {
  let offSignals = (): void => undefined;
  const interrupted = new Promise<void>((resolve) => {
    const stop = (): void => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    offSignals = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
    };
  });
  const ended = new Promise<never>((_resolve, reject) => {
    client.on('error', (error) => {
      if (client.welcome === undefined) reject(explain(error, url));
    });
    client.on('close', (event) => {
      if (!event.reconnect) reject(new CliError(`connection closed: ${event.code} ${event.reason}`));
    });
  });
  try {
    await Promise.race([interrupted, ended, ...(also === undefined ? [] : [also])]);
  } finally {
    offSignals();
  }
  await client.close();
}
