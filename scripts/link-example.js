#!/usr/bin/env node
'use strict';
// What `npm install` in examples/strategy-testing does for its `"kraken-rx-execution": "file:../.."` dependency:
// a symlink in its node_modules to this package. Made here so the root `npm test` runs the example against the
// package as built (dist/, package.json "exports") without an install or the network.
const fs = require('node:fs');
const path = require('node:path');

const modules = path.join(__dirname, '..', 'examples', 'strategy-testing', 'node_modules');
const link = path.join(modules, 'kraken-rx-execution');
fs.mkdirSync(modules, { recursive: true });
let current;
try {
  current = fs.readlinkSync(link);
} catch {
  current = undefined;
}
if (current !== path.join('..', '..', '..')) {
  fs.rmSync(link, { recursive: true, force: true });
  fs.symlinkSync(path.join('..', '..', '..'), link, 'dir');
}
