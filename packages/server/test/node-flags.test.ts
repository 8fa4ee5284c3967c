import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { SERVE_NODE_FLAGS } from '../bin/node-flags.mjs';

const ROOT = new URL('../../../', import.meta.url);
const read = (path: string) => readFile(new URL(path, ROOT), 'utf8');

/** node's flags in a command line that runs the hangar command: what sits between `node` and the script. */
function nodeFlags(words: string[]): string[] {
  const node = words.findIndex((w) => w === 'node' || w.endsWith('/node'));
  const script = words.findIndex((w) => w.endsWith('hangar.mjs'));
  if (node < 0 || script < node) throw new Error(`no node ... hangar.mjs in: ${words.join(' ')}`);
  return words.slice(node + 1, script);
}

describe('the node flags of hangar serve', () => {
  // Every launcher the repository ships runs the server the same way the benchmark measured it.
  const launchers: Record<string, () => Promise<string[]>> = {
    'pnpm start': async () => JSON.parse(await read('package.json')).scripts.start.split(' '),
    "the server package's start": async () => JSON.parse(await read('packages/server/package.json')).scripts.start.split(' '),
    "the container's entry point": async () => {
      const line = (await read('deploy/Dockerfile')).split('\n').find((l) => l.startsWith('ENTRYPOINT '));
      return JSON.parse(line!.slice('ENTRYPOINT '.length)) as string[];
    },
    // The `hangar` that pnpm links into the packages depending on the server (`pnpm exec hangar`
    // there): a shim that passes the flags of the script's first line, written at `pnpm install`.
    "the workspace's hangar shim": async () => {
      const shim = await read('packages/cli/node_modules/.bin/hangar').catch(() => '');
      const line = shim.split('\n').find((l) => l.trim().startsWith('exec node '));
      if (!line) throw new Error('no `exec node` line in packages/cli/node_modules/.bin/hangar: run pnpm install');
      return line.trim().replace(/"/g, '').split(/\s+/);
    },
    'the systemd unit in docs/operations.md': async () => {
      const line = (await read('docs/operations.md')).split('\n').find((l) => l.startsWith('ExecStart='));
      return line!.slice('ExecStart='.length).split(' ');
    },
  };
  for (const [name, words] of Object.entries(launchers)) {
    it(`${name} passes them`, async () => {
      expect(nodeFlags(await words())).toEqual(SERVE_NODE_FLAGS);
    });
  }

  // Run as a program (`./bin/hangar.mjs serve`), the script gets its flags from its first line.
  // What counts is what node is given: a line that reads right but runs wrong (`env` without -S
  // takes `node --flag` for one program's name) must fail here.
  it.skipIf(process.platform === 'win32')("are given by the bin's first line to the node it runs", async () => {
    const firstLine = (await read('packages/server/bin/hangar.mjs')).split('\n')[0]!;
    const dir = await mkdtemp(join(tmpdir(), 'hangar-shebang-'));
    try {
      const script = join(dir, 'flags.mjs');
      await writeFile(script, `${firstLine}\nprocess.stdout.write(JSON.stringify(process.execArgv));\n`, { mode: 0o700 });
      const { stdout } = await promisify(execFile)(script, [], { timeout: 10_000 });
      expect(JSON.parse(stdout)).toEqual(SERVE_NODE_FLAGS);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('are taken by this node and bound its young generation', async () => {
    // A misspelt or retired flag stops node before the server starts; a flag V8 ignores leaves
    // the young generation at its default (2 x 16 MB after a churn like this one).
    const churn = `
      let keep = [];
      for (let i = 0; i < 2e6; i++) { keep.push({ i, s: 'x' + i }); if (keep.length > 5000) keep = []; }
      const s = require('node:v8').getHeapSpaceStatistics().find((x) => x.space_name === 'new_space');
      process.stdout.write(String(s.space_size));`;
    const { stdout } = await promisify(execFile)(process.execPath, [...SERVE_NODE_FLAGS, '-e', churn]);
    expect(Number(stdout)).toBeGreaterThan(0);
    expect(Number(stdout)).toBeLessThanOrEqual(16 * 2 ** 20);
  });
});
