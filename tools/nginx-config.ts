/**
 * Renders nginx/native.conf.template. The one renderer for both tools/nginx.sh (through the CLI
 * below) and tests/support/nginx.ts, so tests run the same edge config as the local stack.
 *
 * CLI: node -r ts-node/register/transpile-only tools/nginx-config.ts \
 *        --prefix DIR --log-dir DIR --listen 127.0.0.1:8080 --conn-limit 1000 --upstreams "8081 8082" \
 *        [--tls-listen 127.0.0.1:8443 --tls-cert server.pem --tls-key server-key.pem]
 * writes DIR/nginx.conf and prints its path.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

export interface NginxConfigOptions {
  /** Absolute directory for the pid file, temp dirs and the rendered nginx.conf. */
  prefix: string;
  /** Absolute directory for nginx-error.log and nginx-access.log. */
  logDir: string;
  /** nginx `listen` value, e.g. `127.0.0.1:8080`. */
  listen: string;
  /** Gateway ports on 127.0.0.1. */
  upstreamPorts: readonly number[];
  connLimitPerIp: number;
  /** Defaults to the hard open-files limit, at most 131072. */
  rlimitNofile?: number;
  /** Directory of the web chat page served at `/`; defaults to web/dist of this repo. */
  webRoot?: string;
  /**
   * With TLS the gateways are served on `tls.listen` only, and `listen` answers every request with
   * a 301 to `https://$host:<tls port>` (WebSocket upgrades included).
   */
  tls?: NginxTlsOptions;
}

export interface NginxTlsOptions {
  /** nginx `listen` value of the TLS server, e.g. `127.0.0.1:8443`; its port is the redirect's. */
  listen: string;
  /** Absolute path of the certificate chain (leaf first) in PEM. */
  certificate: string;
  /** Absolute path of its private key in PEM. */
  certificateKey: string;
}

const MAX_NOFILE = 131_072;
const MAX_WORKER_CONNECTIONS = 65_535;

/** The hard RLIMIT_NOFILE (Node has no getrlimit); nginx cannot raise its workers above it. */
export function hardNofileLimit(): number {
  const result = spawnSync('sh', ['-c', 'ulimit -Hn'], { encoding: 'utf8' });
  const value = result.stdout.trim();
  if (value === 'unlimited') return MAX_NOFILE;
  const limit = Number(value);
  if (result.status !== 0 || !Number.isInteger(limit) || limit <= 0) {
    throw new Error(`cannot read the open-files limit (ulimit -Hn): ${result.stderr || value}`);
  }
  return Math.min(limit, MAX_NOFILE);
}

export const TEMPLATE_PATH = resolve(__dirname, '..', 'nginx', 'native.conf.template');
export const DEFAULT_WEB_ROOT = resolve(__dirname, '..', 'web', 'dist');

/** nginx would split an unquoted path at whitespace and end it at `;`. */
function nginxPath(path: string): string {
  if (/["\\\n;]/.test(path)) throw new Error(`unusable path for nginx: ${path}`);
  return `"${path}"`;
}

export function renderNginxConfig(
  options: NginxConfigOptions,
  template = readFileSync(TEMPLATE_PATH, 'utf8'),
): string {
  if (options.upstreamPorts.length === 0) {
    throw new Error('nginx needs at least one upstream gateway port');
  }
  for (const port of options.upstreamPorts) {
    if (!Number.isInteger(port) || port < 1 || port > 65535)
      throw new Error(`invalid upstream port: ${port}`);
  }
  const nofile = options.rlimitNofile ?? hardNofileLimit();
  const values: Record<string, string> = {
    RLIMIT_NOFILE: String(nofile),
    // Keep a few descriptors for logs and listening sockets.
    WORKER_CONNECTIONS: String(Math.min(MAX_WORKER_CONNECTIONS, nofile - 64)),
    PREFIX: options.prefix,
    LOG_DIR: options.logDir,
    CONN_LIMIT_PER_IP: String(options.connLimitPerIp),
    WEB_ROOT: nginxPath(options.webRoot ?? DEFAULT_WEB_ROOT),
    ...listeners(options),
    UPSTREAM_SERVERS: options.upstreamPorts
      .map((port) => `        server 127.0.0.1:${port} max_fails=1 fail_timeout=2s;`)
      .join('\n'),
  };
  return template.replace(/\{\{([A-Z_]+)\}\}/g, (_match, name: string) => {
    const value = values[name];
    if (value === undefined) throw new Error(`unknown placeholder {{${name}}} in ${TEMPLATE_PATH}`);
    return value;
  });
}

/** The placeholders that differ between a plain edge and a TLS edge with an HTTP redirect. */
function listeners(options: NginxConfigOptions): Record<string, string> {
  const { tls } = options;
  if (tls === undefined) {
    return { PROXY_LISTEN: options.listen, TLS_SETTINGS: '', REDIRECT_SERVER: '' };
  }
  const port = /:(\d+)$/.exec(tls.listen)?.[1];
  if (port === undefined) throw new Error(`TLS listen must end in :port, got "${tls.listen}"`);
  const quoted = (path: string): string => {
    if (/["\\\n]/.test(path)) throw new Error(`unusable path for nginx: ${path}`);
    return `"${path}"`;
  };
  return {
    PROXY_LISTEN: `${tls.listen} ssl`,
    TLS_SETTINGS: [
      `        ssl_certificate ${quoted(tls.certificate)};`,
      `        ssl_certificate_key ${quoted(tls.certificateKey)};`,
      '        ssl_protocols TLSv1.2 TLSv1.3;',
      '        ssl_prefer_server_ciphers off;',
      // Resumed handshakes skip the key exchange: cheaper reconnect storms after a drain.
      '        ssl_session_cache shared:postbox_tls:10m;',
      '        ssl_session_timeout 1h;',
      '        ssl_session_tickets off;',
    ].join('\n'),
    REDIRECT_SERVER: [
      '    # TLS is on: plain HTTP only redirects, WebSocket upgrades and health checks included,',
      '    # so no token or message ever crosses the network in clear text.',
      '    server {',
      `        listen ${options.listen} backlog=4096;`,
      `        return 301 https://$host:${port}$request_uri;`,
      '    }',
      '',
    ].join('\n'),
  };
}

/** Renders into `prefix/nginx.conf`, creating the temp dirs nginx expects; returns the file path. */
export function writeNginxConfig(options: NginxConfigOptions): string {
  for (const dir of ['temp', 'temp/client_body', 'temp/proxy', 'temp/fastcgi', 'temp/uwsgi', 'temp/scgi']) {
    mkdirSync(join(options.prefix, dir), { recursive: true });
  }
  mkdirSync(options.logDir, { recursive: true });
  const file = join(options.prefix, 'nginx.conf');
  writeFileSync(file, renderNginxConfig(options));
  return file;
}

function parseArgs(argv: readonly string[]): NginxConfigOptions {
  const args = new Map<string, string>();
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i];
    const value = argv[i + 1];
    if (key === undefined || !key.startsWith('--') || value === undefined) {
      throw new Error(`bad arguments near "${key ?? ''}"; expected --name value pairs`);
    }
    args.set(key.slice(2), value);
  }
  const required = (name: string): string => {
    const value = args.get(name);
    if (value === undefined) throw new Error(`missing --${name}`);
    return value;
  };
  const tlsListen = args.get('tls-listen');
  return {
    tls:
      tlsListen === undefined
        ? undefined
        : {
            listen: tlsListen,
            certificate: resolve(required('tls-cert')),
            certificateKey: resolve(required('tls-key')),
          },
    ...(args.has('web-root') ? { webRoot: resolve(required('web-root')) } : {}),
    prefix: resolve(required('prefix')),
    logDir: resolve(required('log-dir')),
    listen: required('listen'),
    connLimitPerIp: Number(required('conn-limit')),
    upstreamPorts: required('upstreams')
      .split(/[\s,]+/)
      .filter(Boolean)
      .map(Number),
  };
}

if (require.main === module) {
  try {
    process.stdout.write(`${writeNginxConfig(parseArgs(process.argv.slice(2)))}\n`);
  } catch (error) {
    console.error(`nginx-config: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  }
}
