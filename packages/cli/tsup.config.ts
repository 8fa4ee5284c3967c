import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { defineConfig } from 'tsup';
import { buildFingerprint, CLI_INPUTS } from '../server/bin/build-fingerprint.mjs';

/**
 * `hgr` as built JavaScript (`pnpm build`, also run by `pnpm install`): the CLI with the SDK
 * and every dependency bundled, so a start neither compiles TypeScript nor resolves a few
 * hundred files in node_modules. What only some commands need (ora, cli-progress, cli-table3,
 * the login prompts) is imported dynamically and lands in chunks of its own, loaded on use.
 */
export default defineConfig((options) => ({
  entry: { cli: 'src/cli.ts' },
  format: ['esm'],
  platform: 'node',
  target: 'node20',
  clean: true,
  sourcemap: true,
  splitting: true,
  noExternal: [/.*/],
  // The CommonJS dependencies inside the bundle ask for `require`, which ESM lacks.
  banner: { js: "import { createRequire as __hgrRequire } from 'node:module'; const require = __hgrRequire(import.meta.url);" },
  // Last: a build cut short has no fingerprint, and the launcher runs the sources (the server's rule, bin/build-fingerprint.mjs).
  async onSuccess() {
    await writeFile(
      join(options.outDir ?? 'dist', 'fingerprint.json'),
      `${JSON.stringify(buildFingerprint(undefined, CLI_INPUTS), null, 1)}\n`,
    );
  },
}));
