/**
 * Embedded mode as the README tells a newcomer to run it: `make embedded` starts one in-memory
 * gateway that accepts the tokens `make token` mints (same dev secret), says on /readyz that it
 * runs in memory, and stops on Ctrl-C (SIGINT to the terminal's process group).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { connect } from '@postbox/client';
import { freePort } from '../support/ports';

const ROOT = resolve(__dirname, '..', '..');

/** A newcomer's shell: no JWT_SECRET, no REDIS_URL or KAFKA_BROKERS (jest's globalSetup sets those). */
function shellEnv(): Record<string, string> {
  return { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? ROOT };
}

function output(child: ChildProcess): { text: () => string } {
  let text = '';
  child.stdout?.on('data', (chunk: Buffer) => (text += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (text += chunk.toString()));
  return { text: () => text };
}

async function waitReady(url: string, child: ChildProcess, log: () => string): Promise<unknown> {
  // Generous: the first run compiles the gateway (tsc -b) on two shared cores.
  const deadline = Date.now() + 180_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`make embedded exited early:\n${log()}`);
    try {
      const response = await fetch(url);
      if (response.status === 200) return await response.json();
    } catch {
      // not listening yet
    }
    await new Promise((wake) => setTimeout(wake, 250));
  }
  throw new Error(`make embedded never became ready:\n${log()}`);
}

test('make embedded: make token tokens are accepted, /readyz says memory, Ctrl-C stops it', async () => {
  const port = await freePort();
  // detached: its own process group, like a terminal's foreground job.
  const child = spawn('make', ['-s', 'embedded', `PORT=${port}`], {
    cwd: ROOT,
    env: shellEnv(),
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const log = output(child);
  const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
  try {
    expect(await waitReady(`http://127.0.0.1:${port}/readyz`, child, log.text)).toEqual({
      status: 'ready',
      gateway: expect.any(String),
      store: 'memory',
      bus: 'memory',
      draining: false,
    });
    expect(log.text()).toContain(`[embedded] ws://127.0.0.1:${port}/ws`);

    const minted = spawn('make', ['-s', 'token', 'USER=alice'], { cwd: ROOT, env: shellEnv() });
    const token = output(minted);
    expect(await new Promise((done) => minted.once('close', done))).toBe(0);

    const alice = connect(`ws://127.0.0.1:${port}/ws`, token.text().trim(), { maxAttemptsBeforeWelcome: 1 });
    try {
      expect(await alice.opened()).toMatchObject({ type: 'welcome', user: 'alice' });
    } finally {
      await alice.close();
    }
  } finally {
    if (child.pid !== undefined && child.exitCode === null) process.kill(-child.pid, 'SIGINT');
  }
  await exited;
  // Nothing is left listening (no orphaned gateway).
  await expect(fetch(`http://127.0.0.1:${port}/healthz`)).rejects.toThrow();
}, 240_000);
