import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serveFiles } from '@hangar/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../src/testing.js';

// A full disk under the data directory, for real: small tmpfs mounts (root only; CI runs as
// root, and there a mount that fails is a failure, not a skip) under the image store and the
// imports directory. A download and an import that do not fit fail with a clear error, leave
// nothing half-written, and the server serves on.

function canMount(): boolean {
  const probe = `/tmp/hangar-mount-probe-${process.pid}`;
  try {
    execFileSync('mkdir', ['-p', probe]);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', probe], { stdio: 'ignore' });
    execFileSync('umount', [probe]);
    return true;
  } catch {
    return false;
  } finally {
    execFileSync('rm', ['-rf', probe]);
  }
}
const runs = canMount() || !!process.env.CI;
if (!runs) console.warn('disk-full test skipped: it mounts small tmpfs filesystems, which needs root');

const mount = (dir: string, mb: number) => execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${mb}m,mode=0700`, 'tmpfs', dir]);
const umount = (dir: string) => execFileSync('umount', ['-l', dir]);

let root: string;
let server: TestServer;
let files: Awaited<ReturnType<typeof serveFiles>>;
const mounts: string[] = [];

beforeAll(async () => {
  if (!runs) return;
  root = await mkdtemp(join(tmpdir(), 'hangar-disk-full-'));
  const images = join(root, 'images');
  await mkdir(images);
  mount(images, 8);
  mounts.push(images);
  files = await serveFiles({ '/big.iso': { body: Buffer.alloc(24 * 2 ** 20, 1) } });
  server = await startTestServer({
    // Simulated disks of 1 MiB per "GB": a 24 GB VM exports as 24 MiB.
    sim_bytes_per_gb: 2 ** 20,
    env: { HANGAR_IMAGE_DIR: images, HANGAR_IMAGE_ALLOW_HOSTS: '127.0.0.1' },
  });
  const imports = join(server.dataDir, 'imports');
  mount(imports, 8);
  mounts.push(imports);
}, 60_000);

afterAll(async () => {
  await server?.stop().catch(() => {});
  await files?.close();
  for (const m of mounts) umount(m);
  if (root) await rm(root, { recursive: true, force: true });
});

describe.runIf(runs)('a full disk', () => {
  const headers = () => ({ authorization: `Bearer ${server.apiKey}`, 'content-type': 'application/json' });

  it('fails an image download that does not fit, saying so, and leaves no partial file', async () => {
    const res = await fetch(`${server.url}/api/v1/images`, {
      method: 'POST',
      headers: headers(),
      body: JSON.stringify({ name: 'big.iso', kind: 'iso', url: `${files.url}/big.iso` }),
    });
    expect(res.status).toBe(201);
    const { id } = (await res.json()) as { id: string };
    const done = (await (await fetch(`${server.url}/api/v1/images/${id}/wait?timeout_ms=30000`, { headers: headers() })).json()) as {
      image: { status: string; error: string };
    };
    expect(done.image.status).toBe('error');
    expect(done.image.error).toMatch(/no space left/i);
    expect(await readdir(join(root, 'images'), { recursive: true })).toEqual(expect.not.arrayContaining([expect.stringContaining(id)]));
    expect((await fetch(`${server.url}/api/v1/vms`, { headers: headers() })).status).toBe(200);
  });

  it('refuses an import that does not fit with a clear error, leaves nothing of it, and serves on', async () => {
    const made = await fetch(`${server.url}/api/v1/vms?wait=true`, {
      method: 'POST',
      headers: headers(),
      body: JSON.stringify({ name: 'big', cpu_cores: 1, memory_mb: 128, disk_gb: 24 }),
    });
    const { vm } = (await made.json()) as { vm: { id: string } };
    const archive = Buffer.from(await (await fetch(`${server.url}/api/v1/vms/${vm.id}/export`, { headers: headers() })).arrayBuffer());
    expect(archive.length).toBeGreaterThan(24 * 2 ** 20);
    const res = await fetch(`${server.url}/api/v1/vms/import?name=copy`, {
      method: 'POST',
      headers: { authorization: `Bearer ${server.apiKey}`, 'content-type': 'application/x-tar' },
      body: archive,
    });
    const body = (await res.json()) as { code: string; detail: string };
    // Refused before a byte is written: the manifest says how much the disks need.
    expect([res.status, body.code], body.detail).toEqual([503, 'INSUFFICIENT_CAPACITY']);
    expect(body.detail).toBe(`The archive's disks need ${24 * 2 ** 20} bytes; the host has ${8 * 2 ** 20} bytes free`);
    expect(await readdir(join(server.dataDir, 'imports'))).toEqual([]);
    const list = (await (await fetch(`${server.url}/api/v1/vms?search=copy`, { headers: headers() })).json()) as { vms: unknown[] };
    expect(list.vms).toEqual([]);
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
  });
});
