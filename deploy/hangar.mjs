#!/usr/bin/env node
// `hangar` in the container image: always the built server (dist/cli.js). The repository's
// bin/hangar.mjs compares the build with the TypeScript sources and falls back to running them
// through tsx; the image has neither the sources nor a reason to compile anything at start.
import { main } from './dist/cli.js';

main(process.argv.slice(2)).catch((err) => {
  process.stderr.write(`hangar: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
