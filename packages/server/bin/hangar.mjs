#!/usr/bin/env -S node --max-semi-space-size=8
// Runs the built server (dist/cli.js, from `pnpm build`) when the files it was built from are
// unchanged (bin/build-fingerprint.mjs); otherwise the TypeScript sources through tsx, so an
// edit never runs stale code and a fresh clone needs no build step. HANGAR_FROM_SOURCE=1
// always takes the sources. The first line gives node the server's flags (bin/node-flags.mjs)
// when this file is run as a program, and pnpm's `hangar` shims (in the packages that depend on
// the server) take them from it.
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { buildFingerprint } from './build-fingerprint.mjs';

const dist = (p) => fileURLToPath(new URL(`../dist/${p}`, import.meta.url));

function builtIsCurrent() {
  if (process.env.HANGAR_FROM_SOURCE === '1' || !existsSync(dist('fingerprint.json'))) return false;
  try {
    return JSON.stringify(JSON.parse(readFileSync(dist('fingerprint.json'), 'utf8'))) === JSON.stringify(buildFingerprint());
  } catch {
    // Anything odd about the build: the sources are always right.
    return false;
  }
}

let main;
if (builtIsCurrent()) {
  ({ main } = await import(dist('cli.js')));
} else {
  const { register } = await import('tsx/esm/api');
  register();
  ({ main } = await import('../src/cli.ts'));
}
main(process.argv.slice(2)).catch((err) => {
  process.stderr.write(`hangar: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
