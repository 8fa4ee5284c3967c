import { defineConfig } from 'vitest/config';
import suite from './vitest.config.js';

/**
 * The unit layer alone (`pnpm test:unit`): pure functions and in-memory parts (the command-line
 * builder, the state machine, field schemas, the login limiter, archive reading, the
 * simulator), in seconds and with no PostgreSQL. `pnpm test` runs these too.
 */
export default defineConfig({
  resolve: suite.resolve,
  test: { include: ['packages/*/test/unit/**/*.test.ts'], pool: 'forks', testTimeout: 30_000 },
});
