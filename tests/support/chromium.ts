/**
 * Debian's headless Chromium for browser tests, driven by playwright-core (which downloads no
 * browser). tools/install.sh installs it, so CI always has it; a machine without it gets it here
 * through apt-get, and only when that fails too does a browser test skip (with the reason).
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

function run(command: string, args: string[]): string | undefined {
  const sudo = process.getuid?.() === 0 ? [] : ['sudo', '-n'];
  const [program = command, ...rest] = [...sudo, command, ...args];
  const result = spawnSync(program, rest, {
    encoding: 'utf8',
    timeout: 600_000,
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  if (result.status === 0) return undefined;
  return `${command} ${args.join(' ')} failed: ${result.error?.message ?? result.stderr.trim().split('\n').slice(-3).join(' | ')}`;
}

/** Undefined when Chromium is there (installed now if need be), else why it is not. */
export function ensureChromium(): string | undefined {
  if (existsSync(CHROMIUM)) return undefined;
  console.warn(
    `[chromium] ${CHROMIUM} is missing: installing Debian's chromium (make install does this too)`,
  );
  const failure =
    run('apt-get', ['update', '-q']) ??
    run('apt-get', ['install', '-y', '-q', '--no-install-recommends', 'chromium', 'fonts-liberation']);
  if (existsSync(CHROMIUM)) return undefined;
  return `${CHROMIUM} is absent and could not be installed (${failure ?? 'no binary after apt-get'}); run make install`;
}

export interface RunningChromium {
  context: BrowserContext;
  close(): Promise<void>;
}

/** A headless Chromium with a fresh profile, removed on close. */
export async function launchChromium(): Promise<RunningChromium> {
  const profile = mkdtempSync(join(tmpdir(), 'postbox-chromium-'));
  chmodSync(profile, 0o700);
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ARGS,
    viewport: { width: 420, height: 760 },
    timeout: 60_000,
  });
  return {
    context,
    close: async () => {
      await context.close().catch(() => undefined);
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
