// Mutation testing: `pnpm test:mutation` (not part of `pnpm test`). Stryker makes small
// breakages in the modules below, one at a time, and runs the tests that cover each; a mutant
// that no test notices is a behaviour the suite claims but does not pin. Incremental: a rerun
// only tests mutants in code or tests that changed (reports/stryker-incremental.json).
// One module: `pnpm test:mutation --mutate 'packages/core/src/services/**/*.ts'`.
/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'vitest',
  vitest: { configFile: 'stryker.vitest.config.ts' },
  plugins: ['@stryker-mutator/vitest-runner'],
  coverageAnalysis: 'perTest',
  mutate: [
    'packages/core/src/domain/**/*.ts',
    'packages/core/src/services/**/*.ts',
    'packages/core/src/actions/**/*.ts',
    'packages/core/src/worker/**/*.ts',
    'packages/server/src/auth/**/*.ts',
    'packages/server/src/routers/**/*.ts',
    '!**/index.ts',
  ],
  // Typed code: a mutant the compiler refuses is not a test gap.
  ignoreStatic: true,
  incremental: true,
  incrementalFile: 'reports/stryker-incremental.json',
  reporters: ['clear-text', 'progress-append-only', 'html', 'json'],
  htmlReporter: { fileName: 'reports/mutation/index.html' },
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  concurrency: 2,
  timeoutMS: 60_000,
  tempDirName: '.stryker-tmp',
  cleanTempDir: 'always',
};
