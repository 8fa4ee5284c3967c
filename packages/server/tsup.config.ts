import { cp } from 'node:fs/promises';
import { join } from 'node:path';
import { defineConfig } from 'tsup';

/**
 * `hangar` as built JavaScript (`pnpm build`, also run by `pnpm install`): the server, core and
 * their npm dependencies bundled, so a start neither compiles TypeScript nor resolves a few
 * hundred files in node_modules. What only some commands or requests need is split into chunks
 * loaded on demand (the agent, the OpenAPI generator). The migrations are copied beside the
 * bundle (`dist/drizzle`), where core's migrator looks when it runs from there.
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
    await cp('../core/drizzle', join(options.outDir ?? 'dist', 'drizzle'), { recursive: true });
  },
}));
