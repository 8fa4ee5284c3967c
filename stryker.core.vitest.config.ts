import mutation from './stryker.vitest.config.js';

/** The mutation suite narrowed to core's tests (see stryker.core.config.mjs); `include` replaced, not merged. */
export default { ...mutation, test: { ...mutation.test, include: ['packages/core/test/**/*.test.ts'] } };
