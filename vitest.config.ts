import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const root = dirname(fileURLToPath(import.meta.url));

/**
 * The workspace packages' own entry points (their package.json `exports`), resolved from this
 * directory. pnpm's links already lead there; saying so here keeps it true in a copy of the
 * repository too, where the links still lead to the original (the mutation tester works in a
 * copy: without this, the server's tests would run the unmutated core).
 */
function workspaceAliases() {
  return readdirSync(join(root, 'packages')).flatMap((dir) => {
    const pkg = JSON.parse(readFileSync(join(root, 'packages', dir, 'package.json'), 'utf8')) as {
      name: string;
      exports?: Record<string, string>;
    };
    return Object.entries(pkg.exports ?? {}).map(([sub, file]) => ({
      find: new RegExp(`^${(pkg.name + sub.slice(1)).replace(/[/.]/g, '\\$&')}$`),
      replacement: resolve(root, 'packages', dir, file),
    }));
  });
}

export default defineConfig({
  resolve: { alias: workspaceAliases() },
  test: {
    include: ['packages/*/test/**/*.test.ts', 'examples/**/*.test.ts'],
    // The long runs have their own command (`pnpm test:soak`).
    exclude: ['**/node_modules/**', 'packages/*/test/soak/**'],
    globalSetup: ['./packages/core/src/testing/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
});
