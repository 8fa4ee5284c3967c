// What a build of `hangar` is made from: every file under the sources, the migrations and the
// patches, and the manifests, lock file and build config, each with its size and modification
// time. `pnpm build` writes it beside the bundle (dist/fingerprint.json, last, so that a build
// cut short has none); `bin/hangar.mjs` takes the bundle only when the files say the same now.
// An exact match, not "newer than": a rollback that keeps old times (cp -p, rsync -a, tar), a
// deleted file or a changed lock file all count as changes.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));

/** What the server's bundle is made from. */
export const SERVER_INPUTS = {
  trees: ['packages/core/src', 'packages/core/drizzle', 'packages/server/src', 'patches'],
  files: [
    'package.json',
    'pnpm-lock.yaml',
    'packages/core/package.json',
    'packages/server/package.json',
    'packages/server/tsup.config.ts',
    'packages/server/bin/build-fingerprint.mjs',
  ],
};

/** What `hgr`'s bundle is made from (the CLI and the SDK it bundles). */
export const CLI_INPUTS = {
  trees: ['packages/cli/src', 'packages/sdk/src'],
  files: [
    'package.json',
    'pnpm-lock.yaml',
    'packages/sdk/package.json',
    'packages/cli/package.json',
    'packages/cli/tsup.config.ts',
    'packages/server/bin/build-fingerprint.mjs',
  ],
};

/** path (from the repository root) -> "size:mtime", sorted by path, of the server's inputs (or others). */
export function buildFingerprint(root = ROOT, inputs = SERVER_INPUTS) {
  const { trees: TREES, files: FILES } = inputs;
  const out = {};
  const add = (file) => {
    const st = statSync(file);
    out[relative(root, file)] = `${st.size}:${Math.round(st.mtimeMs)}`;
  };
  for (const tree of TREES) {
    const dir = join(root, tree);
    if (!existsSync(dir)) continue;
    for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
      // parentPath from Node 20.12; path before it.
      if (entry.isFile()) add(join(entry.parentPath ?? entry.path, entry.name));
    }
  }
  for (const file of FILES) if (existsSync(join(root, file))) add(join(root, file));
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => (a < b ? -1 : 1)));
}
