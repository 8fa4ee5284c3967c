import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { defineConfig } from 'tsup';

const OUT = 'dist';

/**
 * The web console as static files (`pnpm build`, also run by `pnpm install`), which
 * `hangar serve` serves at `/`: `dist/index.html` and `dist/assets/*`, each asset named by a hash
 * of its content (so the server lets browsers keep them for good). The noVNC viewer is split
 * into a chunk of its own, loaded when a VM's Console tab opens, so the list page loads fast.
 */
export default defineConfig({
  entry: { main: 'src/main.tsx' },
  outDir: `${OUT}/assets`,
  format: ['esm'],
  platform: 'browser',
  // noVNC waits at the top level of a module (a codec probe): ES2022.
  target: 'es2022',
  clean: true,
  minify: true,
  splitting: true,
  sourcemap: false,
  dts: false,
  // Everything is bundled: the browser gets no bare imports.
  noExternal: [/.*/],
  // The SDK reads files only in Node, behind dynamic imports the console never reaches.
  external: ['node:fs'],
  loader: { '.css': 'css' },
  esbuildOptions(options) {
    options.entryNames = '[name]-[hash]';
    options.chunkNames = 'chunk-[hash]';
    options.assetNames = '[name]-[hash]';
    options.jsx = 'automatic';
    options.jsxImportSource = 'preact';
    options.define = { ...options.define, 'process.env.NODE_ENV': '"production"' };
  },
  async onSuccess() {
    const files = await readdir(`${OUT}/assets`);
    const script = files.find((f) => /^main-[\w-]+\.js$/.test(f));
    const style = files.find((f) => /^main-[\w-]+\.css$/.test(f));
    if (!script || !style) throw new Error(`the build made no main script or stylesheet: ${files.join(', ')}`);
    const template = await readFile('src/index.html', 'utf8');
    const html = template.replace('%STYLE%', `/assets/${style}`).replace('%SCRIPT%', `/assets/${script}`);
    await writeFile(join(OUT, 'index.html'), html);
  },
});
