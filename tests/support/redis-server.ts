/**
 * A private redis-server child (AOF with appendfsync always, its own dir and free port) for tests that kill Redis:
 * the shared native Redis on 16379 must never be stopped.
 *
 *   const redis = await startOwnRedis();   // redis.url
 *   await redis.kill();                    // SIGKILL, as a crash
 *   await redis.restart();                 // same port, same AOF dir
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports';

export interface OwnRedis {
  port: number;
  url: string;
  kill(): Promise<void>;
  restart(): Promise<void>;
  stop(): Promise<void>;
}

const REDIS = process.env.REDIS_SERVER_BIN ?? 'redis-server';
const running = new Set<ChildProcess>();
process.once('exit', () => running.forEach((child) => child.kill('SIGKILL')));

function answersPing(port: number): Promise<boolean> {
  return new Promise((done) => {
    const socket = connect(port, '127.0.0.1');
    socket.setTimeout(1000, () => {
      socket.destroy();
      done(false);
    });
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (data) => {
      socket.destroy();
      done(data.toString().startsWith('+PONG'));
    });
    socket.once('error', () => done(false));
  });
}

export async function startOwnRedis(): Promise<OwnRedis> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'postbox-redis-'));
  let child: ChildProcess | undefined;

  const launch = async (): Promise<void> => {
    const started = spawn(
      REDIS,
      // appendfsync always: a test that SIGKILLs Redis and then asserts nothing accepted was lost
      // must not depend on everysec timing. Under everysec a slow fsync (a loaded shared disk)
      // postpones the AOF write by up to 2 s while replies still go out, so a kill can lose an
      // acknowledged write; one such loss was seen here before this setting.
      [
        ...['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', ''],
        ...['--appendonly', 'yes', '--appendfsync', 'always'],
      ],
      { stdio: 'ignore' },
    );
    child = started;
    running.add(started);
    started.once('exit', () => running.delete(started));
    const deadline = Date.now() + 15_000;
    while (!(await answersPing(port))) {
      if (started.exitCode !== null) throw new Error(`redis-server on ${port} exited at startup`);
      if (Date.now() > deadline) throw new Error(`redis-server on ${port} not answering within 15 s`);
      await new Promise((done) => setTimeout(done, 50));
    }
  };

  const kill = async (): Promise<void> => {
    const current = child;
    if (current === undefined || current.exitCode !== null || current.signalCode !== null) return;
    const exited = new Promise((done) => current.once('exit', done));
    current.kill('SIGKILL');
    await exited;
  };

  await launch();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    kill,
    restart: launch,
    stop: async () => {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
