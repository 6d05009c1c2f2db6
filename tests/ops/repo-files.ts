/**
 * Readers for the deployment files (docker-compose.yml, Dockerfile, nginx/nginx.conf), parsed
 * with zod at the boundary so the ops tests compare typed values with the gateway's own config.
 * No Docker engine is needed: these files must be right by construction.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse } from 'yaml';
import { z } from 'zod';

export const ROOT = resolve(__dirname, '..', '..');
export const readRepoFile = (path: string): string => readFileSync(resolve(ROOT, path), 'utf8');

const scalar = z.union([z.string(), z.number(), z.boolean()]).transform(String);

const healthcheck = z.object({
  test: z.union([z.string(), z.array(z.string())]),
  interval: z.string().optional(),
  timeout: z.string().optional(),
  start_period: z.string().optional(),
  retries: z.number().optional(),
});

const service = z
  .object({
    image: z.string().optional(),
    build: z.union([z.string(), z.object({ context: z.string() }).passthrough()]).optional(),
    container_name: z.string().optional(),
    command: z.union([z.string(), z.array(z.string())]).optional(),
    environment: z.record(scalar.nullable()).default({}),
    ports: z.array(scalar).default([]),
    volumes: z.array(z.string()).default([]),
    depends_on: z.record(z.object({ condition: z.string() })).default({}),
    healthcheck: healthcheck.optional(),
    stop_signal: z.string().optional(),
    stop_grace_period: z.string().optional(),
  })
  .passthrough();

export type ComposeService = z.infer<typeof service>;

const composeFile = z.object({
  services: z.record(service),
  volumes: z.record(z.unknown().nullable()).default({}),
});

export type ComposeFile = z.infer<typeof composeFile>;

export function loadCompose(): ComposeFile {
  return composeFile.parse(parse(readRepoFile('docker-compose.yml')));
}

export function composeService(compose: ComposeFile, name: string): ComposeService {
  const found = compose.services[name];
  if (found === undefined) throw new Error(`docker-compose.yml has no service "${name}"`);
  return found;
}

/**
 * What the gateway process would see: `${VAR:-default}` becomes its default, `${VAR:?message}`
 * (a variable the operator must supply) becomes `supplied[VAR]`, so the result can be fed to the
 * config schema.
 */
export function interpolate(
  environment: Record<string, string | null>,
  supplied: Record<string, string>,
): Record<string, string> {
  const result: Record<string, string> = {};
  for (const [name, raw] of Object.entries(environment)) {
    result[name] = (raw ?? '').replace(
      /\$\{([A-Z0-9_]+)(?::([-?])([^}]*))?\}/g,
      (_match, variable: string, kind: string | undefined, rest: string | undefined) => {
        if (kind === '-') return rest ?? '';
        const value = supplied[variable];
        if (value === undefined) throw new Error(`no value supplied for \${${variable}}`);
        return value;
      },
    );
  }
  return result;
}

/** Seconds of a compose duration such as `30s`, `1m30s`, `500ms`. */
export function durationSeconds(text: string): number {
  const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(ms|h|m|s)/g)];
  if (parts.length === 0) throw new Error(`not a compose duration: ${text}`);
  const unit: Record<string, number> = { h: 3600, m: 60, s: 1, ms: 0.001 };
  return parts.reduce((sum, [, amount, suffix]) => sum + Number(amount) * (unit[suffix ?? 's'] ?? 1), 0);
}

export interface DockerInstruction {
  keyword: string;
  args: string;
}

/** Dockerfile build stages: instructions (continuations joined, comments dropped) per FROM. */
export function dockerStages(): DockerInstruction[][] {
  const logical = readRepoFile('Dockerfile')
    .split('\n')
    .filter((line) => !/^\s*#/.test(line))
    .join('\n')
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean);
  const stages: DockerInstruction[][] = [];
  for (const line of logical) {
    const [keyword = '', ...rest] = line.split(/\s+/);
    const instruction = { keyword: keyword.toUpperCase(), args: rest.join(' ') };
    if (instruction.keyword === 'FROM') stages.push([]);
    stages.at(-1)?.push(instruction);
  }
  return stages;
}

export interface NginxEdge {
  listenPort: number;
  upstreamServers: { host: string; port: number; params: string[] }[];
}

/** The compose nginx config: its listen port and the upstream servers of postbox_gateways. */
export function loadNginxEdge(): NginxEdge {
  const conf = readRepoFile('nginx/nginx.conf').replace(/#.*$/gm, '');
  const listen = /^\s*listen\s+(?:[\d.]+:)?(\d+)\b/m.exec(conf);
  const upstream = /upstream\s+postbox_gateways\s*\{([^}]*)\}/.exec(conf);
  if (!listen?.[1] || upstream?.[1] === undefined) throw new Error('nginx.conf: no listen or no upstream');
  const upstreamServers = [...upstream[1].matchAll(/^\s*server\s+([^:\s]+):(\d+)([^;]*);/gm)].map(
    ([, host = '', port = '', params = '']) => ({
      host,
      port: Number(port),
      params: params.trim().split(/\s+/).filter(Boolean),
    }),
  );
  return { listenPort: Number(listen[1]), upstreamServers };
}
