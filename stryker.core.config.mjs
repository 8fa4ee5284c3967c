// Mutation testing of core's modules against core's own tests only (`pnpm test:mutation:core
// --mutate …`): the server's and SDK's suites start whole servers per file and would make each
// of core's mutants cost minutes. The server's auth and routers use stryker.config.mjs.
import base from './stryker.config.mjs';

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  ...base,
  vitest: { configFile: 'stryker.core.vitest.config.ts' },
  mutate: [
    'packages/core/src/domain/**/*.ts',
    'packages/core/src/actions/**/*.ts',
    'packages/core/src/services/**/*.ts',
    'packages/core/src/worker/**/*.ts',
    '!**/index.ts',
  ],
};
