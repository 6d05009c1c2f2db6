/**
 * Builds the chat page into web/dist/: index.html and style.css copied, web/src/main.ts bundled
 * with @postbox/client by esbuild into one app.js. The package's `browser` field keeps `ws` and
 * the Node socket out of the bundle.
 *
 * CLI: npm run build:web   (tools/stack.sh up and tests/web run it too; dist/ is not committed)
 */
import { copyFileSync, mkdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { build } from 'esbuild';

export const WEB_DIR = __dirname;
export const WEB_DIST = resolve(WEB_DIR, 'dist');
const STATIC_FILES = ['index.html', 'style.css'];

export async function buildWeb(outDir: string = WEB_DIST): Promise<string> {
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  const result = await build({
    entryPoints: [join(WEB_DIR, 'src', 'main.ts')],
    outfile: join(outDir, 'app.js'),
    bundle: true,
    platform: 'browser',
    format: 'iife',
    // Browsers of the last few years: WebSocket, fetch, private fields, optional chaining.
    target: ['es2020', 'chrome100', 'firefox100', 'safari15'],
    minify: true,
    sourcemap: true,
    logLevel: 'silent',
  });
  for (const warning of result.warnings) console.warn(`build:web warning: ${warning.text}`);
  for (const file of STATIC_FILES) copyFileSync(join(WEB_DIR, file), join(outDir, file));
  return outDir;
}

if (require.main === module) {
  buildWeb().then(
    (dir) => console.log(`build:web: wrote ${dir}`),
    (error: unknown) => {
      console.error(`build:web failed: ${error instanceof Error ? error.message : String(error)}`);
      process.exit(1);
    },
  );
}
