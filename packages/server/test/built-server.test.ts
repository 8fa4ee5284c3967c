import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_ADMIN_KEY } from '../src/testing.js';
import { type ServeProcess, serveProcess } from './serve-process.js';

// What `pnpm install` builds and `pnpm start` runs: the bundle, on its own. Built here into a
// directory of its own (the shared dist/ may be in use by other tests' processes).

const run = promisify(execFile);
const SERVER = fileURLToPath(new URL('..', import.meta.url));
let out: string;
let dataDir: string;
let server: ServeProcess | undefined;

beforeAll(async () => {
  out = await mkdtemp(join(SERVER, '.build-test-'));
  dataDir = await mkdtemp(join(tmpdir(), 'hangar-built-'));
  await run(process.execPath, [join(SERVER, 'node_modules/tsup/dist/cli-default.js'), '--out-dir', out], { cwd: SERVER });
}, 120_000);
afterAll(async () => {
  if (server && server.child.exitCode === null) {
    server.child.kill('SIGTERM');
    await server.exited;
  }
  await rm(out, { recursive: true, force: true });
  await rm(dataDir, { recursive: true, force: true });
});

describe('the built server', () => {
  it('serves from the bundle alone: its embedded PostgreSQL, migrations, REST, the docs and the OpenAPI document', async () => {
    const entry = pathToFileURL(join(out, 'cli.js')).href;
    server = await serveProcess(
      {
        DATABASE_URL: undefined,
        HANGAR_DATA_DIR: dataDir,
        HANGAR_BOOTSTRAP_API_KEY: TEST_ADMIN_KEY,
        HANGAR_ADMIN_PASSWORD: 'built-password-1234',
        LOG_LEVEL: 'info',
      },
      ['--input-type=module', '-e', `const { main } = await import(${JSON.stringify(entry)}); await main(['serve']);`],
    );
    const servingLine = () =>
      server!
        .output()
        .split('\n')
        .find((l) => l.includes('"hangar is serving"'));
    await expect.poll(servingLine).toBeDefined();
    const serving = servingLine();
    const line = JSON.parse(serving!) as { code: string; startup_ms: Record<string, number> };
    expect(line.code).toBe('built');
    expect(Object.keys(line.startup_ms)).toEqual(['process', 'postgres', 'migrations', 'control_plane', 'bootstrap', 'total']);

    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    const doc = (await (await fetch(`${server.url}/openapi.json`)).json()) as { openapi: string; paths: object };
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths)).toContain('/vms/{id}');
    expect((await fetch(`${server.url}/docs`)).status).toBe(200);
    expect((await fetch(`${server.url}/docs/assets/swagger-ui.css`)).status).toBe(200);
    const created = await fetch(`${server.url}/api/v1/vms`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TEST_ADMIN_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'from-the-bundle', cpu_cores: 1, memory_mb: 128, disk_gb: 1 }),
    });
    expect(created.status).toBe(201);

    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);
  }, 120_000);
});

describe('the hangar command', () => {
  /** A copy of the launcher in a tree of its own, whose "built" and "source" entry points say which they are. */
  async function tree(): Promise<{ root: string; say: (env?: Record<string, string>) => Promise<string> }> {
    const root = await mkdtemp(join(tmpdir(), 'hangar-launcher-'));
    for (const d of ['server/bin', 'server/dist', 'server/src', 'core/src', 'core/drizzle'])
      await mkdir(join(root, d), { recursive: true });
    await copyFile(join(SERVER, 'bin/hangar.mjs'), join(root, 'server/bin/hangar.mjs'));
    await symlink(join(SERVER, 'node_modules'), join(root, 'server/node_modules'));
    await writeFile(join(root, 'server/package.json'), '{"type": "module"}\n');
    const entry = (what: string) => `export async function main() { process.stdout.write('${what}'); }\n`;
    await writeFile(join(root, 'server/src/cli.ts'), entry('sources'));
    await writeFile(join(root, 'core/src/index.ts'), '');
    await writeFile(join(root, 'core/drizzle/0000.sql'), '');
    await writeFile(join(root, 'server/dist/cli.js'), entry('built'));
    const say = async (env: Record<string, string> = {}) =>
      (await run(process.execPath, [join(root, 'server/bin/hangar.mjs')], { env: { ...process.env, ...env } })).stdout;
    return { root, say };
  }

  it('runs the build when it is newer than every source, and the sources otherwise', async () => {
    const { root, say } = await tree();
    try {
      const past = new Date(Date.now() - 60_000);
      for (const f of ['server/src/cli.ts', 'core/src/index.ts', 'core/drizzle/0000.sql']) await utimes(join(root, f), past, past);
      expect(await say()).toBe('built');
      expect(await say({ HANGAR_FROM_SOURCE: '1' })).toBe('sources');
      // An edit after the build: the build is stale.
      for (const f of ['core/src/index.ts', 'core/drizzle/0000.sql', 'server/src/cli.ts']) {
        await utimes(join(root, f), new Date(), new Date());
        expect(await say(), f).toBe('sources');
        await utimes(join(root, f), past, past);
      }
      await rm(join(root, 'server/dist'), { recursive: true });
      expect(await say()).toBe('sources');
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});
