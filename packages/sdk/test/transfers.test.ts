import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { startTestServer, type TestServer } from '@hangar/server/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, ConflictError, ConnectionError, ValidationError } from '../src/index.js';

let server: TestServer;
let client: Client;
let dir: string;
const small = { cpu_cores: 1, memory_mb: 256, disk_gb: 2 };

beforeAll(async () => {
  server = await startTestServer({ sim_bytes_per_gb: 2 ** 20 });
  client = new Client({ base_url: server.url, api_key: server.apiKey });
  dir = await mkdtemp(join(tmpdir(), 'hangar-sdk-transfers-'));
});
afterAll(async () => {
  await server?.stop();
  await rm(dir, { recursive: true, force: true });
});

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/** The simulated host's disk file of a VM (its domain's, found by the VM id it keeps). */
function diskFile(vmId: string): string {
  const domain = [...server.driver.hypervisor.domains.values()].find((d) => d.vm_id === vmId);
  expect(domain, `no domain for VM ${vmId}`).toBeDefined();
  return join(server.driver.diskDir, `${domain!.id}.disk`);
}

/** The entries of a (ustar) tar, by name: read here, not with the library that wrote it. */
function tarEntries(tar: Buffer): Map<string, Buffer> {
  const entries = new Map<string, Buffer>();
  const text = (from: number, to: number) => tar.subarray(from, to).toString('latin1').replace(/\0.*$/s, '');
  for (let at = 0; at + 512 <= tar.length && tar[at] !== 0; ) {
    const size = parseInt(text(at + 124, at + 136).trim(), 8);
    const prefix = text(at + 345, at + 500);
    entries.set(prefix ? `${prefix}/${text(at, at + 100)}` : text(at, at + 100), tar.subarray(at + 512, at + 512 + size));
    at += 512 + Math.ceil(size / 512) * 512;
  }
  return entries;
}

describe('SDK export, import and images', () => {
  it('exports to a file and imports it under a new name', async () => {
    const { vm } = await client.createVm({ name: 'sdk-export', ...small }, { wait: true });
    // A disk of random bytes (a fresh simulated disk is all zeros, which any mix-up would keep).
    const disk = randomBytes(2 * 2 ** 20);
    await mkdir(server.driver.diskDir, { recursive: true, mode: 0o700 });
    await writeFile(diskFile(vm.id), disk, { mode: 0o600 });
    const file = join(dir, 'sdk-export.tar');
    const { bytes, operation_id } = await client.exportVm(vm.id, { path: file });
    expect((await stat(file)).size).toBe(bytes);
    expect(bytes).toBeGreaterThan(2 * 2 ** 20);
    expect(await client.waitForOperation(operation_id!)).toMatchObject({ action: 'export', status: 'succeeded' });
    // The archive holds the disk's bytes, and its manifest their checksum.
    const exported = tarEntries(await readFile(file));
    expect([...exported.keys()]).toEqual(['manifest.json', 'disks/disk0.img']);
    expect(sha256(exported.get('disks/disk0.img')!)).toBe(sha256(disk));
    expect(JSON.parse(exported.get('manifest.json')!.toString()).disks).toEqual([
      { name: 'disk0.img', format: 'raw', size: disk.length, sha256: sha256(disk) },
    ]);

    const copy = await client.importVm(file, { name: 'sdk-import' });
    expect(copy).toMatchObject({ name: 'sdk-import', status: 'stopped', disk_gb: 2 });
    expect(sha256(await readFile(diskFile(copy.id)))).toBe(sha256(disk));
    // The archive of the copy holds the same disk bytes (only the names and dates differ).
    const again = join(dir, 'again.tar.gz');
    await client.exportVm(copy.id, { stream: createWriteStream(again), compress: 'gzip' });
    const reexported = tarEntries(gunzipSync(await readFile(again)));
    expect(sha256(reexported.get('disks/disk0.img')!)).toBe(sha256(disk));
    const back = await client.importVm((await import('node:fs')).createReadStream(again), { name: 'sdk-import-2' });
    expect(back.status).toBe('stopped');
    expect(sha256(await readFile(diskFile(back.id)))).toBe(sha256(disk));
    // And the source's disk is as it was.
    expect(sha256(await readFile(diskFile(vm.id)))).toBe(sha256(disk));
  });

  it('a server it cannot reach is a ConnectionError naming the URL it tried', async () => {
    // Port 9 (discard) on loopback: nothing listens there in a test environment.
    const away = new Client({ base_url: 'http://127.0.0.1:9', api_key: server.apiKey, max_retries: 0 });
    const err = await away.exportVm('00000000-0000-4000-8000-000000000000', { path: join(dir, 'never.tar') }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectionError);
    expect((err as Error).message).toMatch(/^Cannot reach the Hangar server at http:\/\/127\.0\.0\.1:9: /);
  });

  it('throws typed errors: running VM (409), bad archive (400)', async () => {
    const { vm } = await client.createVm({ name: 'sdk-running', start: true, ...small }, { wait: true });
    await expect(client.exportVm(vm.id, { path: join(dir, 'x.tar') })).rejects.toBeInstanceOf(ConflictError);
    const err = await client
      .importVm(
        (async function* () {
          yield randomBytes(2048);
        })(),
      )
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ValidationError);
    expect(err).toMatchObject({ code: 'INVALID_ARCHIVE', status: 400 });
  });

  it('uploads an ISO, attaches and ejects it', async () => {
    const bytes = randomBytes(32 * 1024);
    const iso = join(dir, 'tools.iso');
    await (await import('node:fs/promises')).writeFile(iso, bytes);
    const image = await client.uploadImage(iso, { name: 'tools.iso' });
    expect(image).toMatchObject({
      status: 'ready',
      sha256: createHash('sha256')
        .update(await readFile(iso))
        .digest('hex'),
    });
    expect((await client.listImages()).map((i) => i.id)).toContain(image.id);

    const { vm } = await client.createVm({ name: 'sdk-cdrom', ...small }, { wait: true });
    expect((await client.attachIso(vm.id, { image_id: image.id }, { wait: true })).vm.iso_image_id).toBe(image.id);
    await expect(client.deleteImage(image.id)).rejects.toBeInstanceOf(ConflictError);
    expect((await client.ejectIso(vm.id, { wait: true })).vm.iso_image_id).toBeNull();
    await expect(client.ejectIso(vm.id)).rejects.toMatchObject({ message: 'No CDROM device found', status: 400 });
    await client.deleteImage(image.id);
  });
});
