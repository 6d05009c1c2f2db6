/**
 * A private nginx master for end-to-end tests: the same template as the native stack
 * (nginx/native.conf.template via tools/nginx-config.ts), its own temp prefix and a free port.
 *
 *   const edge = await startNginx({ upstreamPorts: [gatewayA.port, gatewayB.port] });
 *   new WebSocket(`${edge.url}/ws?token=...`);
 *   await edge.reload([gatewayB.port]);   // returns once the new workers run
 *   await edge.stop();
 *
 * With `tls: { certDir }` (files of tools/certs.sh) the gateways are served on `edge.tls.url`
 * (wss://) and the plain port only redirects to it.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeNginxConfig, type NginxConfigOptions } from '../../tools/nginx-config';
import { freePort } from './ports';

export interface StartNginxOptions {
  upstreamPorts: number[];
  connLimitPerIp?: number;
  /** Milliseconds to wait for nginx to listen or reload. */
  timeoutMs?: number;
  /**
   * Directory served at `/` (the web chat page, e.g. built by web/build.ts); workers run as nobody,
   * so it must be world-readable. Default: an empty directory, so `/` answers 404.
   */
  webRoot?: string;
  /** A TLS edge with `server.pem` and `server-key.pem` from `certDir` (tools/certs.sh output). */
  tls?: { certDir: string };
}

export interface RunningTls {
  port: number;
  /** `wss://127.0.0.1:<port>` (the certificate names localhost and 127.0.0.1); append `/ws`. */
  url: string;
  httpsUrl: string;
}

export interface RunningNginx {
  port: number;
  /** `ws://127.0.0.1:<port>`; append `/ws`. */
  url: string;
  httpUrl: string;
  /** Set when started with `tls`: where the gateways are served; `url` then only redirects. */
  tls?: RunningTls;
  reload(upstreamPorts: number[]): Promise<void>;
  stop(): Promise<void>;
}

const NGINX = process.env.NGINX_BIN ?? 'nginx';
const running = new Set<ChildProcess>();
process.once('exit', () => running.forEach((child) => child.kill('SIGKILL')));

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolveConnect) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolveConnect(true);
    });
    socket.once('error', () => resolveConnect(false));
  });
}

function delay(ms: number): Promise<void> {
  return new Promise((resolveDelay) => setTimeout(resolveDelay, ms));
}

function fileSize(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}

/** Checks a rendered config with `nginx -t` so a template error fails with nginx's own message. */
function testConfig(options: NginxConfigOptions, confFile: string): void {
  const result = spawnSync(
    NGINX,
    ['-t', '-q', '-p', options.prefix, '-e', errorLog(options), '-c', confFile],
    {
      encoding: 'utf8',
    },
  );
  if (result.error)
    throw new Error(`cannot run ${NGINX}: ${result.error.message} (install it: make install)`);
  if (result.status !== 0) throw new Error(`nginx -t rejected ${confFile}:\n${result.stderr}`);
}

function errorLog(options: NginxConfigOptions): string {
  return join(options.logDir, 'nginx-error.log');
}

export async function startNginx(options: StartNginxOptions): Promise<RunningNginx> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const prefix = mkdtempSync(join(tmpdir(), 'postbox-nginx-'));
  // Workers of a root master run as nobody and must reach the temp dirs inside the prefix.
  chmodSync(prefix, 0o755);
  const port = await freePort();
  const webRoot = options.webRoot ?? join(prefix, 'www');
  mkdirSync(webRoot, { recursive: true });
  let tlsPort: number | undefined;
  while (options.tls !== undefined && (tlsPort === undefined || tlsPort === port)) tlsPort = await freePort();
  const config = (upstreamPorts: number[]): NginxConfigOptions => ({
    prefix,
    logDir: join(prefix, 'logs'),
    listen: `127.0.0.1:${port}`,
    upstreamPorts,
    connLimitPerIp: options.connLimitPerIp ?? 1000,
    webRoot,
    tls:
      options.tls === undefined || tlsPort === undefined
        ? undefined
        : {
            listen: `127.0.0.1:${tlsPort}`,
            certificate: join(options.tls.certDir, 'server.pem'),
            certificateKey: join(options.tls.certDir, 'server-key.pem'),
          },
  });
  const initial = config(options.upstreamPorts);
  const confFile = writeNginxConfig(initial);
  testConfig(initial, confFile);

  const child = spawn(NGINX, ['-p', prefix, '-e', errorLog(initial), '-c', confFile, '-g', 'daemon off;'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  running.add(child);
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<void>((resolveExit) => child.once('exit', () => resolveExit()));
  const failure = (what: string): Error =>
    new Error(`nginx ${what}; stderr: ${stderr.trim()}\nerror log: ${readTail(errorLog(initial))}`);

  const deadline = Date.now() + timeoutMs;
  while (!(await canConnect(port)) || (tlsPort !== undefined && !(await canConnect(tlsPort)))) {
    if (child.exitCode !== null || child.signalCode !== null) throw failure('exited during startup');
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw failure(`did not listen on ${port} within ${timeoutMs} ms`);
    }
    await delay(20);
  }

  return {
    port,
    url: `ws://127.0.0.1:${port}`,
    httpUrl: `http://127.0.0.1:${port}`,
    tls:
      tlsPort === undefined
        ? undefined
        : { port: tlsPort, url: `wss://127.0.0.1:${tlsPort}`, httpsUrl: `https://127.0.0.1:${tlsPort}` },
    async reload(upstreamPorts: number[]): Promise<void> {
      const next = config(upstreamPorts);
      testConfig(next, writeNginxConfig(next));
      const log = errorLog(next);
      const offset = fileSize(log);
      child.kill('SIGHUP');
      // The master logs "reconfiguring", starts new workers, then asks the old ones to quit: an old
      // worker logs "gracefully shutting down", stops accepting and keeps serving its open
      // connections until they close (nothing is dropped). After that line, new connections reach
      // only the new workers, i.e. the new upstreams.
      const reloadDeadline = Date.now() + timeoutMs;
      for (;;) {
        const written = readFileSync(log, 'utf8').slice(offset);
        if (/\[emerg\]|\[alert\]/.test(written)) throw failure(`reload failed: ${written}`);
        if (/reconfiguring[\s\S]*start worker process[\s\S]*gracefully shutting down/.test(written)) return;
        if (Date.now() > reloadDeadline) throw failure(`reload not confirmed within ${timeoutMs} ms`);
        await delay(20);
      }
    },
    async stop(): Promise<void> {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await exited;
      }
      running.delete(child);
      rmSync(prefix, { recursive: true, force: true });
    },
  };
}

function readTail(file: string): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-20).join('\n');
  } catch {
    return '(no error log)';
  }
}
