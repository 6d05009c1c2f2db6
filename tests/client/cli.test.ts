/**
 * The `postbox` CLI as a user runs it: a child process (libs/client/bin/postbox.js) against a
 * real gateway on real Redis and Kafka, its --json output parsed line by line.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { TestClient } from '../support/client';
import { isolatedEnv, startGateway, type GatewayProcess } from '../support/gateways';
import { TEST_JWT_SECRET, tokenFor } from '../support/tokens';

const ROOT = resolve(__dirname, '..', '..');
const BIN = resolve(ROOT, 'libs', 'client', 'bin', 'postbox.js');
let gateway: GatewayProcess;

beforeAll(async () => {
  gateway = await startGateway({ env: isolatedEnv() });
});

afterAll(async () => {
  await gateway?.stop();
});

const user = (name: string) => `${name}-${randomBytes(4).toString('hex')}`;

interface Run {
  child: ChildProcess;
  stdout: string;
  stderr: string;
  exited: Promise<number | null>;
}

function cli(args: string[], secret = TEST_JWT_SECRET): Run {
  const url = args.includes('--url') ? [] : ['--url', `${gateway.url}/ws`];
  const child = spawn(process.execPath, [BIN, ...args, ...url], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', JWT_SECRET: secret },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const run: Run = {
    child,
    stdout: '',
    stderr: '',
    exited: new Promise((done) => child.once('exit', (code) => done(code))),
  };
  child.stdout?.on('data', (chunk: Buffer) => (run.stdout += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (run.stderr += chunk.toString()));
  return run;
}

function jsonLines(text: string): Record<string, unknown>[] {
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

async function until(check: () => boolean, what: string, run: Run, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; stderr: ${run.stderr}`);
    await new Promise((wake) => setTimeout(wake, 50));
  }
}

test('send prints the accepted id; listen prints the message as JSON, acks it and exits cleanly on Ctrl-C', async () => {
  const [alice, bob] = [user('alice'), user('bob')];
  const sent = cli(['send', '--as', alice, '--to', bob, 'hello from the cli', '--json']);
  expect(await sent.exited).toBe(0);
  const [accepted] = jsonLines(sent.stdout);
  expect(accepted).toMatchObject({ type: 'accepted', to: bob, status: 'queued', id: expect.any(String) });

  const listening = cli(['listen', '--as', bob, '--json']);
  await until(() => listening.stdout.includes('\n'), 'a message line', listening);
  expect(jsonLines(listening.stdout)).toEqual([
    { type: 'message', id: accepted?.id, from: alice, to: bob, body: 'hello from the cli', ts: accepted?.ts },
  ]);
  listening.child.kill('SIGINT');
  expect(await listening.exited).toBe(0);

  const raw = await TestClient.connect(gateway.url, { token: await tokenFor(bob) });
  await raw.next('synced');
  expect(raw.messages()).toEqual([]);
  await raw.close();
});

test('readable output: accepted <id> (sent|queued), and presence', async () => {
  const [alice, bob] = [user('alice'), user('bob')];
  const online = await TestClient.connect(gateway.url, { token: await tokenFor(bob) });
  const sent = cli(['send', '--as', alice, '--to', bob, 'hi']);
  expect(await sent.exited).toBe(0);
  expect(sent.stdout).toMatch(/^accepted \S+ \(sent\)\n$/);
  const asked = cli(['presence', bob, user('carol')]);
  expect(await asked.exited).toBe(0);
  expect(asked.stdout).toMatch(new RegExp(`^${bob} online\\n\\S+ offline\\n$`));
  await online.close();
});

test('a token signed with another secret: exit 1 and a hint about JWT_SECRET', async () => {
  const run = cli(
    ['send', '--as', user('alice'), '--to', 'bob', 'hi'],
    'some-other-secret-0123456789-abcdef',
  );
  expect(await run.exited).toBe(1);
  expect(run.stderr).toMatch(/token refused .*check JWT_SECRET matches the gateways'/);
});

test('an invalid user id gets no token (the gateway would refuse it with 401): the CLI and make token say the rule', async () => {
  const minted = cli(['token', 'bad user!']);
  expect(await minted.exited).toBe(1);
  expect(minted.stdout).toBe('');
  expect(minted.stderr).toBe(
    'postbox: "bad user!" is not a valid user id: a user id is 1-128 characters of A-Z a-z 0-9 . _ @ : -\n',
  );
  const make = spawn('make', ['-s', 'token', 'USER=bad user!'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', JWT_SECRET: TEST_JWT_SECRET },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  make.stdout?.on('data', (chunk: Buffer) => (out += chunk.toString()));
  make.stderr?.on('data', (chunk: Buffer) => (err += chunk.toString()));
  expect(await new Promise((done) => make.once('close', done))).not.toBe(0);
  expect(out).toBe('');
  expect(err).toContain('token: "bad user!" is not a valid user id: a user id is 1-128 characters');
});

test('nothing listening: exit 1 and a hint to start the stack', async () => {
  const run = cli(['presence', 'bob', '--url', 'ws://127.0.0.1:9/ws']);
  expect(await run.exited).toBe(1);
  expect(run.stderr).toContain('is the stack running? start it with `make up`');
});

test('usage errors exit 2 and show the usage', async () => {
  const run = cli(['send', '--to', 'bob', 'hi']);
  expect(await run.exited).toBe(2);
  expect(run.stderr).toContain('send needs --as <sender>');
  expect(run.stderr).toContain('usage: postbox <command>');
});
