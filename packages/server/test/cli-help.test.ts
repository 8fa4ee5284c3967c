import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// `hangar`'s own help, as a newcomer asks for it: after any command, and never by starting one.
const BIN = fileURLToPath(new URL('../bin/hangar.mjs', import.meta.url));
let dataDir: string;

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'hangar-help-'));
});
afterAll(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

function hangar(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    // A data directory of its own and a port of the system's choosing: a `serve` that ran anyway
    // would start there, and the timeout end it.
    const { DATABASE_URL: _external, ...inherited } = process.env;
    const env = { ...inherited, HANGAR_DATA_DIR: dataDir, PORT: '0' };
    execFile(process.execPath, [BIN, ...args], { env, timeout: 20_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? null) : 0, stdout, stderr });
    });
  });
}

describe('hangar --help', () => {
  it.each(['--help', 'help', '-h', 'admin --help', 'admin create-key -h', 'serve --help', 'agent -h'])(
    'hangar %s prints the usage and exits 0',
    async (line) => {
      const r = await hangar(line.split(' '));
      expect(r.stderr).not.toContain('Unknown command');
      expect(r.stdout).toMatch(/^hangar: a control plane for virtual machines\n/);
      expect(r.stdout).toContain('hangar admin create-key');
      expect(r.code).toBe(0);
    },
    30_000,
  );

  it('an unknown command still says so, with the usage, and exits 2', async () => {
    const r = await hangar(['admin', 'make-coffee']);
    expect(r.stderr).toMatch(/^Unknown command: admin make-coffee\n\nhangar: a control plane/);
    expect(r.code).toBe(2);
  });
});
