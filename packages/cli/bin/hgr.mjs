#!/usr/bin/env node
// Runs the built CLI (dist/cli.js, from `pnpm build`) when the files it was built from (this
// package's sources and the SDK's, which it bundles) are unchanged, by the same exact-match
// fingerprint the server's launcher uses; otherwise the TypeScript sources through tsx, so an
// edit never runs stale code and a fresh clone needs no build. HGR_FROM_SOURCE=1 always takes
// the sources.
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { buildFingerprint, CLI_INPUTS } from '../../server/bin/build-fingerprint.mjs';

const built = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const fingerprint = fileURLToPath(new URL('../dist/fingerprint.json', import.meta.url));

function builtIsCurrent() {
  if (process.env.HGR_FROM_SOURCE === '1' || !existsSync(fingerprint)) return false;
  try {
    return JSON.stringify(JSON.parse(readFileSync(fingerprint, 'utf8'))) === JSON.stringify(buildFingerprint(undefined, CLI_INPUTS));
  } catch {
    // Anything odd about the build: the sources are always right.
    return false;
  }
}

let main;
if (builtIsCurrent()) {
  ({ main } = await import(built));
} else {
  const { register } = await import('tsx/esm/api');
  register();
  ({ main } = await import('../src/cli.ts'));
}
process.exitCode = await main(process.argv.slice(2));
