#!/usr/bin/env node
// Compiles every app and library in one tsc pass (they share libs/), then rewrites the
// @app/* path aliases to relative requires so `node dist/...` runs without a loader.
// `--if-needed` skips the build when dist is newer than every source and config file.
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const stamp = path.join(root, 'dist', '.build-stamp');
const inputs = ['apps', 'libs', 'tsconfig.json', 'tsconfig.build.json', 'package-lock.json'];

function newestMtime(p) {
  const stat = fs.statSync(p, { throwIfNoEntry: false });
  if (!stat) return 0;
  if (!stat.isDirectory()) return stat.mtimeMs;
  let newest = stat.mtimeMs;
  for (const entry of fs.readdirSync(p)) {
    if (entry === 'node_modules' || entry === 'test') continue;
    newest = Math.max(newest, newestMtime(path.join(p, entry)));
  }
  return newest;
}

function upToDate() {
  const built = fs.statSync(stamp, { throwIfNoEntry: false });
  if (!built) return false;
  return inputs.every((input) => newestMtime(path.join(root, input)) <= built.mtimeMs);
}

if (process.argv.includes('--if-needed') && upToDate()) process.exit(0);

const bin = (name) => path.join(root, 'node_modules', '.bin', name);
const started = Date.now();
process.stderr.write('building (tsc)...\n');
try {
  execFileSync(bin('tsc'), ['-p', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' });
  execFileSync(bin('tsc-alias'), ['-p', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' });
} catch {
  process.stderr.write('build failed\n');
  process.exit(1);
}
fs.writeFileSync(stamp, new Date().toISOString());
process.stderr.write(`built in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
