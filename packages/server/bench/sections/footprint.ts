import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';

/** The SDK as an application would ship it: bundled with its runtime dependency, minified, gzipped. */
export async function sdkBundleSize(): Promise<{ minified: number; gzipped: number }> {
  const entry = fileURLToPath(new URL('../../../sdk/src/index.ts', import.meta.url));
  const out = await build({
    entryPoints: [entry],
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'browser',
    write: false,
    // Only exportVm/importVm with a file path reach for node:fs, and only in Node.
    external: ['node:*'],
    logLevel: 'silent',
  });
  const code = out.outputFiles[0]!.contents;
  return { minified: code.length, gzipped: gzipSync(code, { level: 9 }).length };
}
