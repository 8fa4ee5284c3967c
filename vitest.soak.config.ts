import { defineConfig } from 'vitest/config';
import suite from './vitest.config.js';

/**
 * The long runs (`pnpm test:soak`, run by `.ci/run` after the suite): many clients for minutes,
 * and a server killed with a thousand operations in flight. Each prints what it measured.
 */
export default defineConfig({
  resolve: suite.resolve,
  test: {
    include: ['packages/*/test/soak/**/*.test.ts'],
    globalSetup: suite.test!.globalSetup,
    pool: 'forks',
    fileParallelism: false,
    testTimeout: 600_000,
    hookTimeout: 120_000,
  },
});
