import { defineConfig } from 'tsup';

export default defineConfig({
  entry: ['src/index.ts'],
  format: ['esm', 'cjs'],
  platform: 'node',
  target: 'node20',
  clean: true,
  minify: false,
  sourcemap: true,
  // The API's types (from the server and core packages) are inlined, so the package stands alone.
  dts: {
    resolve: [/^@hangar\//],
    compilerOptions: {
      baseUrl: '.',
      rootDir: '..',
      paths: { '@hangar/server': ['../server/src/index.ts'], '@hangar/core': ['../core/src/index.ts'] },
    },
  },
  external: ['@trpc/client', '@trpc/server'],
});
