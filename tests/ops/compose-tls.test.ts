/**
 * The compose TLS option (docker-compose.tls.yml over docker-compose.yml, nginx/nginx-tls.conf)
 * checked without a Docker engine: the TLS edge proxies exactly like nginx/nginx.conf, plain HTTP
 * only redirects, the certificate paths are where the override mounts them, and nginx accepts it.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parse } from 'yaml';
import { z } from 'zod';
import { ROOT, composeService, loadCompose, readRepoFile } from './repo-files';

const tlsConf = readRepoFile('nginx/nginx-tls.conf');
const override = z
  .object({
    services: z.object({
      nginx: z.object({
        ports: z.array(z.string()),
        volumes: z.array(z.string()),
        healthcheck: z.object({ test: z.array(z.string()) }),
      }),
    }),
  })
  .parse(parse(readRepoFile('docker-compose.tls.yml')));
const nginx = override.services.nginx;

/** Directives only: comments and blank lines dropped, whitespace collapsed. */
const directives = (conf: string): string[] =>
  conf
    .replace(/#.*$/gm, '')
    .split('\n')
    .map((line) => line.trim().replace(/\s+/g, ' '))
    .filter(Boolean);

/** The `server { ... }` blocks of the http section, as directive lists. */
function serverBlocks(conf: string): string[][] {
  const lines = directives(conf);
  const blocks: string[][] = [];
  for (let i = 0; i < lines.length; i += 1) {
    if (lines[i] !== 'server {') continue;
    let depth = 0;
    const block: string[] = [];
    for (let j = i; j < lines.length; j += 1) {
      const line = lines[j] ?? '';
      depth += (line.match(/\{/g) ?? []).length - (line.match(/\}/g) ?? []).length;
      block.push(line);
      if (depth === 0) break;
    }
    blocks.push(block);
  }
  return blocks;
}

test('nginx-tls.conf is nginx/nginx.conf with the proxy server moved to 8443 ssl and 8080 redirecting', () => {
  const [redirect, proxy, ...rest] = serverBlocks(tlsConf);
  expect(rest).toEqual([]);
  expect(redirect).toEqual([
    'server {',
    'listen 8080 backlog=4096;',
    'return 301 https://$host:8443$request_uri;',
    '}',
  ]);
  // Back to plain: drop the TLS settings and the redirect server, listen on 8080; then equal to nginx.conf.
  const plain = directives(tlsConf)
    .join('\n')
    .replace(redirect?.join('\n') ?? '', '')
    .replace('listen 8443 ssl backlog=4096;', 'listen 8080 backlog=4096;')
    .split('\n')
    .filter((line) => line !== '' && !line.startsWith('ssl_'));
  expect(plain).toEqual(directives(readRepoFile('nginx/nginx.conf')));
  expect(proxy).toEqual(
    expect.arrayContaining(['ssl_protocols TLSv1.2 TLSv1.3;', 'proxy_set_header X-Forwarded-Proto $scheme;']),
  );
});

test('docker-compose.tls.yml mounts the TLS config over nginx.conf and the certificates where it reads them', () => {
  const base = composeService(loadCompose(), 'nginx');
  const target = (volume: string) => volume.split(':')[1];
  const baseConf = base.volumes.find((volume) => volume.startsWith('./nginx/nginx.conf:'));
  expect(nginx.volumes).toContain(`./nginx/nginx-tls.conf:${target(baseConf ?? '')}:ro`);

  const certs = nginx.volumes.find((volume) => volume.includes('certs'));
  expect(certs).toMatch(/^\$\{TLS_CERTS_DIR:-\.\/\.run\/certs\}:\/etc\/nginx\/certs:ro$/);
  const paths = [...tlsConf.matchAll(/^\s*ssl_certificate(?:_key)?\s+([^;]+);/gm)].map(([, path]) => path);
  expect(paths).toEqual(['/etc/nginx/certs/server.pem', '/etc/nginx/certs/server-key.pem']);
  // tools/certs.sh (make certs) writes exactly these names into .run/certs.
  expect(readRepoFile('tools/certs.sh')).toMatch(/CERTS_DIR="\$\{CERTS_DIR:-\$RUN_DIR\/certs\}"/);

  expect(nginx.ports).toEqual(['8443:8443']);
  expect(base.ports).toEqual(['8080:8080']);
  expect(nginx.healthcheck.test.join(' ')).toContain('https://127.0.0.1:8443/nginx-health');
});

test('nginx accepts nginx-tls.conf (the local nginx stands in for the image: resolve and paths swapped)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'postbox-compose-tls-'));
  try {
    const certs = spawnSync(resolve(ROOT, 'tools/certs.sh'), {
      env: { ...process.env, CERTS_DIR: join(dir, 'certs') },
      encoding: 'utf8',
    });
    expect(certs.status).toBe(0);
    // `server ... resolve` needs nginx >= 1.27.3 (the compose image); the rest is plain nginx.
    const local = tlsConf
      .replace(/server gateway:8080 resolve;/, 'server 127.0.0.1:1;')
      .replace(/\/etc\/nginx\/certs\//g, `${join(dir, 'certs')}/`)
      .replace(/^pid .*$/m, `pid ${join(dir, 'nginx.pid')};`)
      // Node's stdio pipes are sockets, which nginx cannot open as /dev/stdout or /dev/stderr.
      .replace(/\/dev\/std(out|err)/g, join(dir, 'std$1.log'));
    const file = join(dir, 'nginx.conf');
    writeFileSync(file, local);
    const result = spawnSync(
      process.env.NGINX_BIN ?? 'nginx',
      ['-t', '-q', '-p', dir, '-e', join(dir, 'error.log'), '-c', file],
      {
        encoding: 'utf8',
      },
    );
    expect({ status: result.status, stderr: result.stderr }).toEqual({ status: 0, stderr: '' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
