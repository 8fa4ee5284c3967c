import { defineConfig } from 'vitest/config';
import suite from '../../vitest.config.js';

// The suite's own configuration (global setup and all), pointed at the canary alone.
export default defineConfig({ ...suite, test: { ...suite.test, include: ['.ci/canary/*.test.ts'] } });
