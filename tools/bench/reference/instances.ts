/**
 * Starts instances of the Socket.IO reference (socketio.ts) as child processes, the way
 * tests/support/gateways.ts starts gateways: own port on 127.0.0.1, log file, wait for /healthz.
 * The source is compiled once to plain JS with esbuild (.run/bench/socketio.js) and run with
 * `node`, as production runs compiled code.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { buildSync } from 'esbuild';
import { freePort } from '../../../tests/support/ports';

const ROOT = resolve(__dirname, '..', '..', '..');
const OUT_DIR = resolve(ROOT, '.run', 'bench');
const LOG_DIR = resolve(ROOT, '.run', 'test-logs');
const children = new Set<ChildProcess>();
process.once('exit', () => children.forEach((child) => child.kill('SIGKILL')));

export interface ReferenceInstance {
  id: string;
  port: number;
  pid: number;
  stop(): Promise<void>;
}

export interface StartReferenceOptions {
  id: string;
  /** JWT_SECRET, REDIS_URL, SIO_KEY (see socketio.ts). */
  env: Record<string, string>;
  nodeArgs?: string[];
}

/** Compiles socketio.ts (not bundled: packages load from node_modules); returns the JS file. */
export function compileReference(): string {
  mkdirSync(OUT_DIR, { recursive: true });
  const outfile = resolve(OUT_DIR, 'socketio.js');
  buildSync({
    entryPoints: [resolve(__dirname, 'socketio.ts')],
    outfile,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    bundle: false,
    logLevel: 'warning',
  });
  return outfile;
}

export async function startReference(
  script: string,
  options: StartReferenceOptions,
): Promise<ReferenceInstance> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await startOnce(script, options);
    } catch (error) {
      // A free port can be taken by another process before the instance binds it.
      if (attempt >= 3 || !String(error).includes('exited during startup')) throw error;
    }
  }
}

async function startOnce(script: string, options: StartReferenceOptions): Promise<ReferenceInstance> {
  const port = await freePort();
  mkdirSync(LOG_DIR, { recursive: true });
  const log = createWriteStream(resolve(LOG_DIR, `${options.id}.log`));
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), script], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      NODE_ENV: 'production',
      HOST: '127.0.0.1',
      PORT: String(port),
      INSTANCE_ID: options.id,
      ...options.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  void exited.then(() => children.delete(child));
  let dead = false;
  void exited.then(() => (dead = true));
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (dead) throw new Error(`${options.id} exited during startup; see .run/test-logs/${options.id}.log`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${options.id} not ready within 30 s; see .run/test-logs/${options.id}.log`);
    }
    try {
      if ((await fetch(`http://127.0.0.1:${port}/healthz`)).status === 200) break;
    } catch {
      // not listening yet
    }
    await new Promise((done) => setTimeout(done, 100));
  }
  return {
    id: options.id,
    port,
    pid: child.pid ?? -1,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
