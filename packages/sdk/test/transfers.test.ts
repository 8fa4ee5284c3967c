import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '@hangar/server/testing';
import { Client, ConflictError, ValidationError } from '../src/index.js';

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

describe('SDK export, import and images', () => {
  it('exports to a file and imports it under a new name', async () => {
    const { vm } = await client.createVm({ name: 'sdk-export', ...small }, { wait: true });
    const file = join(dir, 'sdk-export.tar');
    const { bytes, operation_id } = await client.exportVm(vm.id, { path: file });
    expect((await stat(file)).size).toBe(bytes);
    expect(bytes).toBeGreaterThan(2 * 2 ** 20);
    expect(await client.waitForOperation(operation_id!)).toMatchObject({ action: 'export', status: 'succeeded' });

    const copy = await client.importVm(file, { name: 'sdk-import' });
    expect(copy).toMatchObject({ name: 'sdk-import', status: 'stopped', disk_gb: 2 });
    // The archive of the copy holds the same disk bytes (only the names and dates differ).
    const again = join(dir, 'again.tar.gz');
    await client.exportVm(copy.id, { stream: createWriteStream(again), compress: 'gzip' });
    const back = await client.importVm((await import('node:fs')).createReadStream(again), { name: 'sdk-import-2' });
    expect(back.status).toBe('stopped');
  });

  it('throws typed errors: running VM (409), bad archive (400)', async () => {
    const { vm } = await client.createVm({ name: 'sdk-running', start: true, ...small }, { wait: true });
    await expect(client.exportVm(vm.id, { path: join(dir, 'x.tar') })).rejects.toBeInstanceOf(ConflictError);
    const err = await client.importVm((async function* () { yield randomBytes(2048); })()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ValidationError);
    expect(err).toMatchObject({ code: 'INVALID_ARCHIVE', status: 400 });
  });

  it('uploads an ISO, attaches and ejects it', async () => {
    const bytes = randomBytes(32 * 1024);
    const iso = join(dir, 'tools.iso');
    await (await import('node:fs/promises')).writeFile(iso, bytes);
    const image = await client.uploadImage(iso, { name: 'tools.iso' });
    expect(image).toMatchObject({ status: 'ready', sha256: createHash('sha256').update(await readFile(iso)).digest('hex') });
    expect((await client.listImages()).map((i) => i.id)).toContain(image.id);

    const { vm } = await client.createVm({ name: 'sdk-cdrom', ...small }, { wait: true });
    expect((await client.attachIso(vm.id, { image_id: image.id }, { wait: true })).vm.iso_image_id).toBe(image.id);
    await expect(client.deleteImage(image.id)).rejects.toBeInstanceOf(ConflictError);
    expect((await client.ejectIso(vm.id, { wait: true })).vm.iso_image_id).toBeNull();
    await expect(client.ejectIso(vm.id)).rejects.toMatchObject({ message: 'No CDROM device found', status: 400 });
    await client.deleteImage(image.id);
  });
});
