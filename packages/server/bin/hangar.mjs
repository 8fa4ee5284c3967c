#!/usr/bin/env node
// Runs the built server (dist/cli.js, `pnpm build`) when it is newer than every source it was
// built from; otherwise the TypeScript sources through tsx, so an edit never runs stale code
// and a fresh clone needs no build step. HANGAR_FROM_SOURCE=1 always takes the sources.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = (p) => fileURLToPath(new URL(`../../${p}`, import.meta.url));
const built = fileURLToPath(new URL('../dist/cli.js', import.meta.url));

function newestUnder(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) newest = Math.max(newest, statSync(`${entry.parentPath}/${entry.name}`).mtimeMs);
  }
  return newest;
}

function builtIsCurrent() {
  if (process.env.HANGAR_FROM_SOURCE === '1' || !existsSync(built)) return false;
  const sources = ['core/src', 'core/drizzle', 'server/src'].map((d) => newestUnder(root(d)));
  return statSync(built).mtimeMs >= Math.max(...sources);
}

let main;
if (builtIsCurrent()) {
  ({ main } = await import(built));
} else {
  const { register } = await import('tsx/esm/api');
  register();
  ({ main } = await import('../src/cli.ts'));
}
main(process.argv.slice(2)).catch((err) => {
  process.stderr.write(`hangar: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
