import { cp, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { defineConfig } from 'tsup';
import { buildFingerprint } from './bin/build-fingerprint.mjs';

/**
 * `hangar` as built JavaScript (`pnpm build`, also run by `pnpm install`): the server, core and
 * their npm dependencies bundled, so a start neither compiles TypeScript nor resolves a few
 * hundred files in node_modules. What only some commands or requests need is split into chunks
 * loaded on demand (the agent, the OpenAPI generator). The migrations are copied beside the
 * bundle (`dist/drizzle`), where core's migrator looks when it runs from there, and the
 * fingerprint of what it was built from (`dist/fingerprint.json`), which the launcher checks.
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
  banner: { js: "import { createRequire as __hangarRequire } from 'node:module'; const require = __hangarRequire(import.meta.url);" },
  async onSuccess() {
    const out = options.outDir ?? 'dist';
    await cp('../core/drizzle', join(out, 'drizzle'), { recursive: true });
    // Last: a build cut short has no fingerprint, and the launcher runs the sources.
    await writeFile(join(out, 'fingerprint.json'), `${JSON.stringify(buildFingerprint(), null, 1)}\n`);
  },
}));
