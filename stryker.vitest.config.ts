import { defineConfig, mergeConfig } from 'vitest/config';
import base from './vitest.config.js';

/**
 * The suite as mutation testing runs it: every test that pins behaviour of the mutated modules,
 * without the ones that take a minute whatever they cover (the fuzz sweep, real QEMU boots, the
 * packed-package build, the benchmark, the database-outage restarts). Each mutant reruns the
 * tests that cover it, so one slow test covering much code would cost hours.
 */
export default mergeConfig(
  base,
  defineConfig({
    test: {
      exclude: [
        '**/node_modules/**',
        'packages/server/test/fuzz.test.ts',
        'packages/core/test/qemu.test.ts',
        'packages/sdk/test/qemu.test.ts',
        'packages/sdk/test/qemu-server-process.test.ts',
        'packages/sdk/test/package.test.ts',
        'packages/server/test/bench.test.ts',
        'packages/server/test/database-outage.test.ts',
        // Starts a Prism proxy per run: its schema checks are pinned by the openapi and REST tests.
        'packages/server/test/contract.test.ts',
        'examples/**',
      ],
    },
  }),
);
