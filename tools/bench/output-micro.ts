/**
 * Micro-benchmark of the gateway's output path: frames written one `send` at a time outside any
 * uWS callback (as before the outbox: one write syscall per frame) against the same frames queued
 * on a real `Session` and written by the `Outbox` in one corked write per connection and turn.
 * A uWS server in a child process writes rounds of frames (each round from a setImmediate, like a
 * promise callback or the bus handler); clients here read them, and ask for the next round once
 * every frame arrived. The server reports its own CPU time over the measured rounds; with
 * `--strace` a second pass runs the server under strace and counts its send syscalls.
 *
 *   node -r ts-node/register/transpile-only tools/bench/output-micro.ts [--strace] [--repeats 3]
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { WebSocket as UwsSocket } from 'uWebSockets.js';
import WebSocket from 'ws';
import { Outbox } from '../../services/gateway/src/outbox';
import { Session } from '../../services/gateway/src/session';
import { loadNativeUws } from '../../services/gateway/src/transport/uws';

type Mode = 'uncorked' | 'corked';

interface Scenario {
  name: string;
  connections: number;
  framesPerConnection: number;
  rounds: number;
}

const SCENARIOS: Scenario[] = [
  { name: '100-frame mailbox page, 100 connections', connections: 100, framesPerConnection: 100, rounds: 40 },
  {
    name: '1 frame per connection, 1,000 connections',
    connections: 1000,
    framesPerConnection: 1,
    rounds: 200,
  },
  {
    name: '4 frames per connection, 1,000 connections',
    connections: 1000,
    framesPerConnection: 4,
    rounds: 100,
  },
];
const WARMUP_ROUNDS = 5;
const MAX_BUFFERED_BYTES = 1 << 20;
const BODY = 'x'.repeat(120);

// ---- the server (child process) ----

function runServer(mode: Mode, framesPerConnection: number): void {
  const uws = loadNativeUws();
  const outbox = new Outbox((err) => {
    throw err;
  });
  const limits = {
    sendsPerSecond: 1e9,
    sendBurst: 1e9,
    bytesPerSecond: 1e12,
    maxInvalidFrames: 10,
    invalidWindowMs: 10_000,
    maxBufferedBytes: MAX_BUFFERED_BYTES,
    countFramesOut: () => undefined,
    outbox,
  };
  const clients: { ws: UwsSocket<unknown>; session: Session }[] = [];
  let seq = 0;
  let started: NodeJS.CpuUsage | undefined;
  const frameText = () =>
    JSON.stringify({ type: 'message', id: `m${(seq += 1)}`, from: 'alice', to: 'bob', body: BODY, ts: 1 });

  const writeRound = (): void => {
    for (const { ws, session } of clients) {
      for (let i = 0; i < framesPerConnection; i += 1) {
        if (mode === 'corked') {
          session.write(frameText());
        } else {
          // The write path before the outbox: send at once, then the slow-consumer check.
          const status = ws.send(frameText());
          if (status === 2 || ws.getBufferedAmount() > MAX_BUFFERED_BYTES) throw new Error('slow consumer');
        }
      }
    }
  };

  const app = uws.App();
  app.ws<unknown>('/*', {
    maxBackpressure: MAX_BUFFERED_BYTES * 2,
    open: (ws) => {
      const session = new Session(`s${clients.length}`, 'bob', Date.now() + 3_600_000, limits, Date.now());
      session.attach(ws);
      session.state = 'live';
      clients.push({ ws, session });
    },
    message: (ws, data) => {
      const command = Buffer.from(data).toString();
      if (command === 'control') {
        clients.splice(
          clients.findIndex((client) => client.ws === ws),
          1,
        );
      } else if (command === 'round') {
        setImmediate(writeRound); // outside any uWS callback, as the gateway's writes are
      } else if (command === 'start') {
        writeSync(2, 'MEASURE-START\n'); // a marker in strace's output
        started = process.cpuUsage();
      } else if (command === 'stop') {
        const used = process.cpuUsage(started);
        writeSync(2, 'MEASURE-STOP\n');
        ws.send(JSON.stringify({ userUs: used.user, systemUs: used.system }));
      } else if (command === 'quit') {
        process.exit(0);
      }
    },
  });
  app.listen('127.0.0.1', 0, (listenSocket) => {
    if (listenSocket === false) throw new Error('cannot listen');
    process.stdout.write(`PORT ${uws.us_socket_local_port(listenSocket)}\n`);
  });
}

// ---- the driver (parent process) ----

interface Result {
  cpuMs: number;
  userMs: number;
  systemMs: number;
  frames: number;
  sendSyscalls?: number;
}

async function measure(scenario: Scenario, mode: Mode, traced: boolean): Promise<Result> {
  const stracePath = path.join(tmpdir(), `output-micro-${process.pid}-${mode}.strace`);
  const serverArgs = [
    '-r',
    'ts-node/register/transpile-only',
    __filename,
    'server',
    mode,
    String(scenario.framesPerConnection),
  ];
  const child: ChildProcess = traced
    ? spawn(
        'strace',
        ['-f', '-e', 'trace=sendto,sendmsg,write', '-o', stracePath, process.execPath, ...serverArgs],
        {
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      )
    : spawn(process.execPath, serverArgs, { stdio: ['ignore', 'pipe', 'pipe'] });
  let serverErrors = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    serverErrors += chunk.toString().replace(/MEASURE-(START|STOP)\n/g, '');
  });
  try {
    const port = await new Promise<number>((resolve, reject) => {
      let out = '';
      child.stdout?.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        const match = /PORT (\d+)/.exec(out);
        if (match) resolve(Number(match[1]));
      });
      child.once('exit', (code) => reject(new Error(`server exited (${code}): ${serverErrors}`)));
    });
    const url = `ws://127.0.0.1:${port}/`;
    const control = await open(url);
    control.send('control');
    let received = 0;
    let roundDone: (() => void) | undefined;
    const perRound = scenario.connections * scenario.framesPerConnection;
    const sockets: WebSocket[] = [];
    for (let i = 0; i < scenario.connections; i += 1) {
      const ws = await open(url);
      ws.on('message', () => {
        received += 1;
        if (received === perRound) roundDone?.();
      });
      sockets.push(ws);
    }
    const round = () =>
      new Promise<void>((resolve) => {
        received = 0;
        roundDone = resolve;
        control.send('round');
      });
    for (let i = 0; i < WARMUP_ROUNDS; i += 1) await round();
    control.send('start');
    for (let i = 0; i < scenario.rounds; i += 1) await round();
    const usage = await new Promise<{ userUs: number; systemUs: number }>((resolve) => {
      control.once('message', (data: Buffer) =>
        resolve(JSON.parse(data.toString()) as { userUs: number; systemUs: number }),
      );
      control.send('stop');
    });
    for (const ws of sockets) ws.terminate();
    const result: Result = {
      cpuMs: (usage.userUs + usage.systemUs) / 1000,
      userMs: usage.userUs / 1000,
      systemMs: usage.systemUs / 1000,
      frames: perRound * scenario.rounds,
    };
    if (traced) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      control.send('quit');
      await exited;
      result.sendSyscalls = countSends(readFileSync(stracePath, 'utf8'));
    }
    control.terminate();
    return result;
  } finally {
    child.kill('SIGKILL');
    rmSync(stracePath, { force: true });
  }
}

/** Send syscalls (uWS writes with send(2), i.e. sendto) between the markers (writes to fd 2). */
function countSends(trace: string): number {
  const lines = trace.split('\n');
  const start = lines.findIndex((line) => line.includes('MEASURE-START'));
  const stop = lines.findIndex((line) => line.includes('MEASURE-STOP'));
  if (start < 0 || stop < 0) throw new Error('markers missing in the strace output');
  return lines.slice(start + 1, stop).filter((line) => /\b(sendto|sendmsg)\(/.test(line)).length;
}

function open(url: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? NaN;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args[0] === 'server') {
    const mode = args[1] === 'corked' ? 'corked' : 'uncorked';
    return runServer(mode, Number(args[2]));
  }
  const repeats = Number(args[args.indexOf('--repeats') + 1]) || 3;
  const traced = args.includes('--strace');
  if (traced && spawnSync('strace', ['-V']).status !== 0) throw new Error('--strace needs strace installed');
  console.log(
    `server CPU (user+sys) per 1,000 frames, median of ${repeats} runs; each run in a fresh server process`,
  );
  for (const scenario of SCENARIOS) {
    const cpu: Record<Mode, number[]> = { uncorked: [], corked: [] };
    let frames = 0;
    for (let r = 0; r < repeats; r += 1) {
      for (const mode of ['uncorked', 'corked'] as const) {
        const result = await measure(scenario, mode, false);
        frames = result.frames;
        cpu[mode].push((result.cpuMs / result.frames) * 1000);
      }
    }
    const [before, after] = [median(cpu.uncorked), median(cpu.corked)];
    console.log(`\n${scenario.name} (${frames} frames measured)`);
    console.log(
      `  uncorked  ${before.toFixed(1)} ms   runs: ${cpu.uncorked.map((v) => v.toFixed(1)).join(', ')}`,
    );
    console.log(
      `  corked    ${after.toFixed(1)} ms   runs: ${cpu.corked.map((v) => v.toFixed(1)).join(', ')}`,
    );
    console.log(`  corked / uncorked: ${(after / before).toFixed(2)}`);
    if (traced) {
      for (const mode of ['uncorked', 'corked'] as const) {
        const result = await measure(scenario, mode, true);
        const perRound = (result.sendSyscalls ?? 0) / scenario.rounds;
        console.log(
          `  ${mode.padEnd(8)}  send syscalls: ${result.sendSyscalls} (${perRound.toFixed(0)} per round of ${scenario.connections * scenario.framesPerConnection} frames)`,
        );
      }
    }
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
