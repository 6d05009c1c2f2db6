// Preloaded into a gateway by tests/ops/build.test.ts (node --require): when the process exits,
// it writes what the process had loaded to $LOADED_MODULES_FILE (JSON), so the test can tell
// whether the TypeScript compiler (typescript, ts-node) was part of it. Nothing of this is in the
// product; without LOADED_MODULES_FILE it does nothing.
/* global process */
const { writeFileSync } = require('node:fs');

const file = process.env.LOADED_MODULES_FILE;
if (file) {
  process.on('exit', () => {
    writeFileSync(
      file,
      JSON.stringify({
        // The entry point: the module whose id is '.' (require.main is unset in a preload).
        main: Object.values(require.cache).find((module) => module?.id === '.')?.filename ?? null,
        execArgv: process.execArgv,
        modules: Object.keys(require.cache),
        extensions: Object.keys(require.extensions),
      }),
    );
  });
}
