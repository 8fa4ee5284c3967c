import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ServeProcess, serveProcess } from '../src/serve-process.js';
import { TEST_ADMIN_KEY } from '../src/testing.js';

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
    const auth = { authorization: `Bearer ${TEST_ADMIN_KEY}` };
    const created = await fetch(`${server.url}/api/v1/vms?wait=true`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'from-the-bundle', cpu_cores: 1, memory_mb: 128, disk_gb: 1 }),
    });
    expect(created.status).toBe(201);
    // Export and import: the archive code is a chunk of its own, loaded by the first of them.
    const { vm } = (await created.json()) as { vm: { id: string; status: string } };
    expect(vm.status).toBe('stopped');
    const exported = await fetch(`${server.url}/api/v1/vms/${vm.id}/export`, { headers: auth });
    expect(exported.status).toBe(200);
    const imported = await fetch(`${server.url}/api/v1/vms/import?name=bundle-copy`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/x-tar' },
      body: Buffer.from(await exported.arrayBuffer()),
    });
    expect(imported.status).toBe(201);

    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);
  }, 120_000);
});

/** The bundle's files a start loads: the entry, the server it imports, and what they import statically. */
async function loadedAtStart(dir: string): Promise<string[]> {
  const seen = new Set<string>();
  const visit = async (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    const text = await readFile(join(dir, file), 'utf8');
    // `import … from "./x.js"` and `import "./x.js"`; not `import("./x.js")`, which loads on demand.
    for (const m of text.matchAll(/^(?:import|export)\b[^(;]*?["']\.\/([^"']+\.js)["'];?$/gms)) await visit(m[1]!);
  };
  await visit('cli.js');
  const server = (await readdir(dir)).find((f) => /^server-[A-Z0-9]+\.js$/.test(f));
  expect(server, 'the serve command is a chunk of its own').toBeDefined();
  await visit(server!);
  return [...seen];
}

describe('what a start loads', () => {
  it('leaves the QEMU and libvirt drivers, their XML libraries and the archive code to be loaded when used', async () => {
    const files = await loadedAtStart(out);
    // esbuild heads each module's code with a comment naming its file.
    const modules = new Set<string>();
    for (const f of files) for (const m of (await readFile(join(out, f), 'utf8')).matchAll(/^\/\/ (\S+)$/gm)) modules.add(m[1]!);
    const has = (re: RegExp) => [...modules].filter((m) => re.test(m));
    expect(has(/core\/src\/drivers\/simulated\/driver\.ts$/)).toHaveLength(1);
    expect(has(/node_modules\/(xmlbuilder2|fast-xml-parser)\//)).toEqual([]);
    expect(has(/core\/src\/drivers\/(libvirt|qemu)\/driver\.ts$/)).toEqual([]);
    expect(has(/core\/src\/services\/archive\/(export|import)-stream\.ts$/)).toEqual([]);
    // What is left out loads from the build: every chunk imports.
    const lazy = (await readdir(out)).filter((f) => /^(driver|export-stream|import-stream)-.*\.js$/.test(f));
    expect(lazy).toHaveLength(4);
    for (const f of lazy) await import(pathToFileURL(join(out, f)).href);
  });
});

describe('the hangar command', () => {
  /** A copy of the launcher in a repository of its own, whose "built" and "source" entry points say which they are. */
  async function tree(): Promise<{ root: string; at: (p: string) => string; say: (env?: Record<string, string>) => Promise<string> }> {
    const root = await mkdtemp(join(tmpdir(), 'hangar-launcher-'));
    const at = (p: string) => join(root, p);
    for (const d of [
      'packages/server/bin',
      'packages/server/dist',
      'packages/server/src',
      'packages/core/src',
      'packages/core/drizzle',
      'patches',
    ])
      await mkdir(at(d), { recursive: true });
    for (const f of ['hangar.mjs', 'build-fingerprint.mjs']) await copyFile(join(SERVER, 'bin', f), at(`packages/server/bin/${f}`));
    await symlink(join(SERVER, 'node_modules'), at('packages/server/node_modules'));
    await writeFile(at('packages/server/package.json'), '{"type": "module"}\n');
    const entry = (what: string) => `export async function main() { process.stdout.write('${what}'); }\n`;
    await writeFile(at('packages/server/src/cli.ts'), entry('sources'));
    await writeFile(at('packages/server/dist/cli.js'), entry('built'));
    await writeFile(at('packages/core/src/index.ts'), 'export {};\n');
    await writeFile(at('packages/core/drizzle/0000.sql'), '');
    await writeFile(at('pnpm-lock.yaml'), 'lockfileVersion: 9\n');
    const say = async (env: Record<string, string> = {}) =>
      (await run(process.execPath, [at('packages/server/bin/hangar.mjs')], { env: { ...process.env, ...env } })).stdout;
    return { root, at, say };
  }

  it('runs the build while the files it was built from are unchanged, and the sources otherwise', async () => {
    const { root, at, say } = await tree();
    const { buildFingerprint } = (await import(pathToFileURL(at('packages/server/bin/build-fingerprint.mjs')).href)) as {
      buildFingerprint: (root: string) => Record<string, string>;
    };
    const built = () => writeFile(at('packages/server/dist/fingerprint.json'), JSON.stringify(buildFingerprint(root)));
    try {
      expect(await say(), 'no fingerprint: a build cut short').toBe('sources');
      await built();
      expect(await say()).toBe('built');
      expect(await say({ HANGAR_FROM_SOURCE: '1' })).toBe('sources');

      // An edit after the build, in the sources, the migrations or the lock file.
      for (const f of ['packages/core/src/index.ts', 'packages/core/drizzle/0000.sql', 'packages/server/src/cli.ts', 'pnpm-lock.yaml']) {
        await writeFile(at(f), '// changed\n', { flag: 'a' });
        expect(await say(), f).toBe('sources');
        await built();
        expect(await say(), f).toBe('built');
      }
      // A rollback that keeps an older time than the build's.
      const past = new Date(Date.now() - 3_600_000);
      await utimes(at('packages/core/src/index.ts'), past, past);
      expect(await say()).toBe('sources');
      await built();
      // A file added, a file removed.
      await writeFile(at('patches/x.patch'), '');
      expect(await say()).toBe('sources');
      await built();
      await rm(at('patches/x.patch'));
      expect(await say()).toBe('sources');
      await built();
      expect(await say()).toBe('built');
      await writeFile(at('packages/server/dist/fingerprint.json'), 'not json');
      expect(await say()).toBe('sources');
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});
