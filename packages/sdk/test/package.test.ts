import { execFile } from 'node:child_process';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { startTestServer, type TestServer } from '@hangar/server/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const SDK_DIR = fileURLToPath(new URL('..', import.meta.url));
const TSC = createRequire(import.meta.url).resolve('typescript/bin/tsc');

const CONSUMER = `
import { Client, NotFoundError, type Vm } from '@hangar/sdk';

declare const process: { env: Record<string, string | undefined> };

const client = new Client({ base_url: process.env.HANGAR_URL, api_key: process.env.HANGAR_API_KEY });
const me = await client.authenticate();
const { vm } = await client.createVm({ name: 'packaged', cpu_cores: 1, memory_mb: 256, disk_gb: 1 }, { wait: true });
const started = await client.startVm(vm.id, { wait: true });
const fetched: Vm = await client.getVm(vm.id);
let notFound = false;
try {
  await client.getVm('00000000-0000-4000-8000-000000000000');
} catch (err) {
  notFound = err instanceof NotFoundError && err.status === 404;
}
const names: string[] = [];
for await (const v of client.listVms({ status: 'running' })) names.push(v.name);

async function typeErrors() {
  // @ts-expect-error cpu_cores is a number
  await client.createVm({ name: 'x', cpu_cores: 'two' });
  // @ts-expect-error a VM needs a name
  await client.createVm({ cpu_cores: 1 });
  // @ts-expect-error no such status
  await client.waitForVm(vm.id, 'flying');
  // @ts-expect-error os_type is linux, windows or other
  await client.updateVm(vm.id, { os_type: 'beos' });
  // @ts-expect-error the raw tRPC client is typed too
  await client.trpc.vms.get.query({ id: 42 });
}
void typeErrors;

console.log(JSON.stringify({ user: me.username, status: started.vm.status, fetched: fetched.name, notFound, names }));
`;

// The same package from CommonJS: `require` resolves the "require" conditions of its exports,
// so tsc reads dist/index.d.cts (checked below) and node loads dist/index.cjs.
const CJS_CONSUMER = `
import sdk = require('@hangar/sdk');
import type { Vm, VmStatus } from '@hangar/sdk';

declare const process: { env: Record<string, string | undefined> };

async function main(): Promise<void> {
  const client: sdk.Client = new sdk.Client({ base_url: process.env.HANGAR_URL, api_key: process.env.HANGAR_API_KEY });
  const me = await client.authenticate();
  const { vm } = await client.createVm({ name: 'packaged-cjs', cpu_cores: 1, memory_mb: 256, disk_gb: 1 }, { wait: true });
  const fetched: Vm = await client.getVm(vm.id);
  const status: VmStatus = fetched.status;
  let notFound = false;
  try {
    await client.getVm('00000000-0000-4000-8000-000000000000');
  } catch (err) {
    notFound = err instanceof sdk.NotFoundError && err.status === 404;
  }
  const deleted = await client.deleteVm(vm.id, { wait: true });
  console.log(JSON.stringify({ user: me.username, status, fetched: fetched.name, notFound, deleted: deleted.vm.status }));
}

async function typeErrors(client: sdk.Client) {
  // @ts-expect-error cpu_cores is a number
  await client.createVm({ name: 'x', cpu_cores: 'two' });
  // @ts-expect-error no such status
  await client.waitForVm('id', 'flying');
  // @ts-expect-error the raw tRPC client is typed too
  await client.trpc.vms.get.query({ id: 42 });
}
void typeErrors;

main().catch((err: unknown) => {
  console.error(err);
  throw err;
});
`;

let server: TestServer;
let dir: string;
beforeAll(async () => {
  server = await startTestServer();
  dir = await mkdtemp(join(tmpdir(), 'hangar-sdk-consumer-'));
  await run('pnpm', ['run', 'build'], { cwd: SDK_DIR });
  await run('pnpm', ['pack', '--pack-destination', dir], { cwd: SDK_DIR });
  const tarball = (await readdir(dir)).find((f) => f.endsWith('.tgz'))!;
  await writeFile(
    join(dir, 'package.json'),
    JSON.stringify({ name: 'consumer', private: true, type: 'module', dependencies: { '@hangar/sdk': `file:./${tarball}` } }),
  );
  await writeFile(
    join(dir, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        target: 'ES2022',
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        // @trpc/server's types use Disposable (TypeScript's esnext.disposable, or @types/node).
        lib: ['ES2023', 'DOM', 'ESNext.Disposable'],
        strict: true,
        skipLibCheck: false,
        outDir: 'out',
      },
      files: ['consumer.ts'],
    }),
  );
  await writeFile(join(dir, 'consumer.ts'), CONSUMER);
  // A .cts file is CommonJS whatever the package's type; node16 resolution follows "require".
  await writeFile(
    join(dir, 'tsconfig.cjs.json'),
    JSON.stringify({
      compilerOptions: {
        target: 'ES2022',
        module: 'Node16',
        moduleResolution: 'Node16',
        lib: ['ES2023', 'DOM', 'ESNext.Disposable'],
        strict: true,
        skipLibCheck: false,
        outDir: 'out',
      },
      files: ['consumer-cjs.cts'],
    }),
  );
  await writeFile(join(dir, 'consumer-cjs.cts'), CJS_CONSUMER);
  // Only the package's declared dependencies, from the registry, outside the workspace.
  await run('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: dir });
}, 240_000);
afterAll(async () => {
  await server?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('the packed SDK, installed on its own', () => {
  it('ships only dist and declares what it needs', async () => {
    const manifest = JSON.parse(
      (await run('node', ['-p', 'JSON.stringify(require("./node_modules/@hangar/sdk/package.json"))'], { cwd: dir })).stdout,
    );
    expect(Object.keys(manifest.dependencies).sort()).toEqual(['@trpc/client', '@trpc/server', 'eventsource-parser', 'zod']);
    // Nothing of the workspace came along: the API's types are inlined in the declarations.
    expect(await readdir(join(dir, 'node_modules/@hangar'))).toEqual(['sdk']);
    const { stdout: dts } = await run('cat', ['node_modules/@hangar/sdk/dist/index.d.ts'], { cwd: dir });
    const imports = [...dts.matchAll(/from '([^']+)'/g)].map((m) => m[1]!.split('/').slice(0, 2).join('/'));
    expect(new Set(imports.map((i) => (i.startsWith('@') ? i : i.split('/')[0])))).toEqual(
      new Set(['@trpc/server', '@trpc/client', 'zod']),
    );
    const files = (await readdir(join(dir, 'node_modules/@hangar/sdk/dist'))).sort();
    expect(files).toEqual(expect.arrayContaining(['index.cjs', 'index.d.cts', 'index.d.ts', 'index.js']));
  });

  it('type-checks a consumer, with wrong input types reported as errors', async () => {
    const r = await run(process.execPath, [TSC, '-p', '.'], { cwd: dir }).catch((e: { stdout: string }) => e);
    expect((r as { stdout: string }).stdout).toBe('');
    // Without the @ts-expect-error lines, the same mistakes fail the build.
    await writeFile(join(dir, 'consumer.ts'), CONSUMER.replaceAll('// @ts-expect-error', '//'));
    const broken = await run(process.execPath, [TSC, '-p', '.', '--noEmit'], { cwd: dir }).catch((e: { stdout: string }) => e);
    const errors = (broken as { stdout: string }).stdout.match(/error TS\d+/g) ?? [];
    expect(errors.length).toBeGreaterThanOrEqual(5);
    await writeFile(join(dir, 'consumer.ts'), CONSUMER);
  });

  it('type-checks a CommonJS consumer against the CommonJS declarations', async () => {
    const r = await run(process.execPath, [TSC, '-p', 'tsconfig.cjs.json', '--listFiles'], { cwd: dir }).catch(
      (e: { stdout: string }) => e,
    );
    const lines = (r as { stdout: string }).stdout.split('\n');
    expect(lines.filter((l) => /error TS/.test(l))).toEqual([]);
    // What tsc read of the package: its CommonJS declarations, and nothing else.
    const read = lines.filter((f) => f.includes('/node_modules/@hangar/sdk/')).map((f) => f.slice(f.indexOf('node_modules/@hangar/sdk/')));
    expect(read).toEqual(['node_modules/@hangar/sdk/dist/index.d.cts']);
    // Compiled to a require() of the package.
    const { stdout: js } = await run('cat', ['out/consumer-cjs.cjs'], { cwd: dir });
    expect(js).toMatch(/require\("@hangar\/sdk"\)/);
    // The declarations are the SDK's types, not `any`: without the @ts-expect-error lines it fails.
    await writeFile(join(dir, 'consumer-cjs.cts'), CJS_CONSUMER.replaceAll('// @ts-expect-error', '//'));
    const broken = await run(process.execPath, [TSC, '-p', 'tsconfig.cjs.json', '--noEmit'], { cwd: dir }).catch(
      (e: { stdout: string }) => e,
    );
    expect((broken as { stdout: string }).stdout.match(/error TS\d+/g) ?? []).toHaveLength(3);
    await writeFile(join(dir, 'consumer-cjs.cts'), CJS_CONSUMER);
  });

  it('runs against a live server, as ESM and as CommonJS', async () => {
    const env = { ...process.env, HANGAR_URL: server.url, HANGAR_API_KEY: server.apiKey };
    const { stdout } = await run(process.execPath, ['out/consumer.js'], { cwd: dir, env });
    expect(JSON.parse(stdout)).toEqual({ user: 'admin', status: 'running', fetched: 'packaged', notFound: true, names: ['packaged'] });
    const cjs = await run(
      process.execPath,
      ['-e', 'const { Client } = require("@hangar/sdk"); new Client().authenticate().then((p) => console.log(p.username))'],
      { cwd: dir, env },
    );
    expect(cjs.stdout.trim()).toBe('admin');
    // The CommonJS consumer tsc checked above, as compiled.
    const typed = await run(process.execPath, ['out/consumer-cjs.cjs'], { cwd: dir, env });
    expect(JSON.parse(typed.stdout)).toEqual({
      user: 'admin',
      status: 'stopped',
      fetched: 'packaged-cjs',
      notFound: true,
      deleted: 'deleted',
    });
  });
});
