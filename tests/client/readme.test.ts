/**
 * libs/client/README.md's Node example, run exactly as written (its ```ts block saved as a file)
 * against a real gateway, so the five-minute example cannot rot.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { isolatedEnv, startGateway, type GatewayProcess } from '../support/gateways';
import { tokenFor } from '../support/tokens';

const ROOT = resolve(__dirname, '..', '..');
let gateway: GatewayProcess;

beforeAll(async () => {
  // Its own key prefix: the example's users are plain `alice` and `bob`.
  gateway = await startGateway({ env: isolatedEnv() });
});

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
  const child = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', file], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      POSTBOX_URL: `${gateway.url}/ws`,
      ALICE_TOKEN: await tokenFor('alice'),
      BOB_TOKEN: await tokenFor('bob'),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const code = await new Promise<number | null>((done) => child.once('exit', done));
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
});
