/**
 * libs/client/README.md's Node example, run exactly as written (its ```ts block saved as a file)
 * against a real gateway, so the five-minute example cannot rot; and what it promises ("Returning
 * acknowledges the message: it is removed from bob's mailbox"), read in Redis.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Redis } from 'ioredis';
import { connect, type Message } from '@postbox/client';
import { isolatedEnv, startGateway, type GatewayProcess } from '../support/gateways';
import { redisUrl } from '../support/infra';
import { tokenFor } from '../support/tokens';

const ROOT = resolve(__dirname, '..', '..');
let gateway: GatewayProcess;
let env: Record<string, string>;
let redis: Redis;

beforeAll(async () => {
  // Its own key prefix: the example's users are plain `alice` and `bob`.
  env = isolatedEnv();
  gateway = await startGateway({ env });
  redis = new Redis(redisUrl());
});

afterAll(async () => {
  redis?.disconnect();
});

/**
 * What the gateway still holds for `user`, once every frame the previous connections sent has
 * been applied: a new session's mailbox read goes to Redis after an earlier connection's acks
 * (one gateway, one Redis connection, in order), so after its `synced` the depth is settled.
 * Returns the messages that session was handed and the mailbox depth read in Redis itself.
 */
async function mailboxAfterSync(user: string): Promise<{ redelivered: Message[]; depth: number }> {
  const redelivered: Message[] = [];
  const client = connect(`${gateway.url}/ws`, await tokenFor(user), { manualAck: true });
  client.onMessage((message) => void redelivered.push(message));
  await new Promise<void>((synced) => client.once('synced', () => synced()));
  await client.close();
  const depth = await redis.zcard(`${env.REDIS_KEY_PREFIX}:{u:${user}}:mbox`);
  return { redelivered, depth };
}

function runScript(
  file: string,
  extraEnv: Record<string, string>,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', file], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', ...extraEnv },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((done) => child.once('close', (code) => done({ code, stdout, stderr })));
}

afterAll(async () => {
  await gateway?.stop();
});

function exampleOf(markdown: string): string {
  const block = /```ts\n([\s\S]*?)```/.exec(markdown);
  if (block?.[1] === undefined) throw new Error('no ```ts block in the README');
  return block[1];
}

test('the README example runs and prints what the README says', async () => {
  const readme = readFileSync(resolve(ROOT, 'libs', 'client', 'README.md'), 'utf8');
  // Inside the repo, so `@postbox/client` resolves through the workspace link as it would for a user.
  const dir = mkdtempSync(join(ROOT, 'libs', 'client', '.readme-'));
  const file = join(dir, 'hello.ts');
  writeFileSync(file, exampleOf(readme));
  const { code, stdout, stderr } = await runScript(file, {
    POSTBOX_URL: `${gateway.url}/ws`,
    ALICE_TOKEN: await tokenFor('alice'),
    BOB_TOKEN: await tokenFor('bob'),
  });
  rmSync(dir, { recursive: true, force: true });
  expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
  const lines = stdout.trim().split('\n');
  // bob's handler prints when the message arrives, which can be before alice's `accepted` (the
  // live delivery races the answer); alice's own lines keep their order.
  const bobsLine = 'bob got "hello bob" from alice';
  expect(lines).toContain(bobsLine);
  expect(lines.filter((line) => line !== bobsLine)).toEqual([
    'is bob online? { bob: true }',
    expect.stringMatching(/^accepted \S+ \(sent\)$/),
    'refused: too_large',
  ]);
  expect(lines).toHaveLength(4);
  // The README shows the same lines.
  expect(readme).toContain(
    'is bob online? { bob: true }\naccepted 01J… (sent)\nrefused: too_large\nbob got "hello bob" from alice',
  );
  // "Returning acknowledges the message: it is removed from bob's mailbox."
  const { redelivered, depth } = await mailboxAfterSync('bob');
  expect(redelivered.map((message) => message.body)).toEqual([]);
  expect(depth).toBe(0);
});

test('a program that exits with acks still queued writes them on the way out', async () => {
  const alice = connect(`${gateway.url}/ws`, await tokenFor('alice'));
  await alice.send('carol', 'for carol, before she connects');
  await alice.close();
  const dir = mkdtempSync(join(ROOT, 'libs', 'client', '.exit-'));
  const file = join(dir, 'exit.ts');
  // Acks batched for 10 minutes: only the exit-time flush can write this one before the exit.
  writeFileSync(
    file,
    [
      "import { connect } from '@postbox/client';",
      "const carol = connect(process.env.POSTBOX_URL ?? '', process.env.CAROL_TOKEN ?? '', { ackDelayMs: 600_000 });",
      'carol.onMessage((message) => {',
      '  console.log(message.body);',
      '  setImmediate(() => process.exit(0));',
      '});',
      '',
    ].join('\n'),
  );
  const run = await runScript(file, {
    POSTBOX_URL: `${gateway.url}/ws`,
    CAROL_TOKEN: await tokenFor('carol'),
  });
  rmSync(dir, { recursive: true, force: true });
  expect(run).toEqual({ code: 0, stdout: 'for carol, before she connects\n', stderr: '' });
  const { redelivered, depth } = await mailboxAfterSync('carol');
  expect(redelivered).toEqual([]);
  expect(depth).toBe(0);
});
