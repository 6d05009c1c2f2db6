// Loaded by ts-node (tsconfig.json "ts-node" → "require"), never by the production gateway.
// The workspace packages' `main` is their compiled dist/index.js (npm run build), which is what
// `node services/gateway/dist/main.js` loads. Code run from sources through ts-node (tests'
// gateways, tools/*.ts, the CLI, the benchmark) must see the sources of @postbox/* too, not a
// possibly stale or missing build: this maps `@postbox/<lib>` to libs/<lib>/src/index.ts.
// jest does the same with moduleNameMapper, tsc --noEmit with `paths` (tsconfig.json).
const fs = require('node:fs');
const path = require('node:path');
const Module = require('node:module');

const ROOT = path.resolve(__dirname, '..', '..');
const resolveFilename = Module._resolveFilename;

Module._resolveFilename = function resolveWorkspaceSource(request, ...rest) {
  const lib = /^@postbox\/([a-z0-9-]+)$/.exec(request)?.[1];
  if (lib !== undefined) {
    const source = path.join(ROOT, 'libs', lib, 'src', 'index.ts');
    if (fs.existsSync(source)) return source;
  }
  return resolveFilename.call(this, request, ...rest);
};
