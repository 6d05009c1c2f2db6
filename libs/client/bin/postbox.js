#!/usr/bin/env node
// The postbox CLI without a build step: ts-node in transpile-only mode with the repo's tsconfig
// (types are checked by `make typecheck`, not on every run).
/* global process */
const { resolve } = require('node:path');

process.env.TS_NODE_PROJECT ??= resolve(__dirname, '..', '..', '..', 'tsconfig.json');
require('ts-node/register/transpile-only');
require('../src/cli.ts');
