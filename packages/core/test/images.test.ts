import { createHash, randomBytes } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Image, UrlPolicy } from '../src/index.js';
import { serveFiles, startTestControlPlane, type TestControlPlane } from '../src/testing/index.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const small = { cpu_cores: 1, memory_mb: 256, disk_gb: 1 };
// An ISO 9660 image needs no tool to be one for these tests: 40 KiB with the volume descriptor magic.
const iso = Buffer.concat([Buffer.alloc(32769), Buffer.from('CD001'), randomBytes(8186)]);
const big = randomBytes(300 * 1024);

let cp: TestControlPlane;
let files: Awaited<ReturnType<typeof serveFiles>>;

beforeAll(async () => {
  files = await serveFiles({
    '/tiny.iso': { body: iso },
    '/other.iso': { body: Buffer.concat([iso, Buffer.from('x')]) },
    '/moved.iso': { redirect: '/hop1' },
    '/hop1': { redirect: '/hop2', status: 301 },
    '/hop2': { redirect: '/tiny.iso', status: 307 },
    '/loop': { redirect: '/loop' },
    '/to-ftp': { redirect: 'ftp://127.0.0.1/x.iso' },
    '/big.iso': { body: big },
    '/disk.img': { body: Buffer.concat([Buffer.from('a raw disk'), Buffer.alloc(4086)]) },
  });
  // The test's server is on loopback, which tenants' URLs may not reach by default (image-downloads.test.ts).
  cp = await startTestControlPlane({
    controlPlane: { max_image_bytes: 200 * 1024, image_downloads: { url_policy: new UrlPolicy(['127.0.0.1']) } },
  });
});
afterAll(async () => {
  await cp?.shutdown();
  await files?.close();
});

/** The image once its download ended: the wait wakes when the downloader says so. */
async function settled(id: string): Promise<Image> {
  const { image, timed_out } = await cp.services.images.wait(cp.scope, id, { timeout_ms: 10_000 });
  if (timed_out) throw new Error(`image ${id} did not settle`);
  return image;
}

async function storeFiles(): Promise<string[]> {
  return (await readdir(cp.images.root))
    .filter((f) => f !== '.partial')
    .concat((await readdir(cp.images.partialDir)).map((f) => `.partial/${f}`));
}

describe('images', () => {
  it('downloads a registered URL with its checksum, once per URL and checksum', async () => {
    const { image, created } = await cp.services.images.register(cp.scope, { url: `${files.url}/tiny.iso`, sha256: sha(iso) });
    expect(created).toBe(true);
    expect(image).toMatchObject({ name: 'tiny.iso', kind: 'iso', status: 'pending', progress: { bytes_done: 0 } });
    const ready = await settled(image.id);
    expect(ready).toMatchObject({
      status: 'ready',
      format: 'iso',
      sha256: sha(iso),
      size_bytes: iso.length,
      progress: { bytes_done: iso.length, bytes_total: iso.length },
    });
    expect(await readFile(cp.images.pathOf(image.id))).toEqual(iso);

    const again = await cp.services.images.register(cp.scope, { url: `${files.url}/tiny.iso`, sha256: sha(iso) });
    expect(again).toMatchObject({ created: false, image: { id: image.id } });
    expect(files.hits.get('/tiny.iso')).toBe(1);
  });

  it('follows a bounded number of http(s) redirects', async () => {
    const moved = (await cp.services.images.register(cp.scope, { url: `${files.url}/moved.iso` })).image;
    expect(await settled(moved.id)).toMatchObject({ status: 'ready', sha256: sha(iso) });
    const loop = (await cp.services.images.register(cp.scope, { url: `${files.url}/loop`, kind: 'iso' })).image;
    expect((await settled(loop.id)).error).toMatch(/more than 5 redirects/);
    const ftp = (await cp.services.images.register(cp.scope, { url: `${files.url}/to-ftp`, kind: 'iso' })).image;
    expect((await settled(ftp.id)).error).toMatch(/refusing to fetch ftp:/);
  });

  it('ends in error, keeping no bytes, on a checksum mismatch, a size over the limit or an HTTP error', async () => {
    const before = await storeFiles();
    const wrong = (await cp.services.images.register(cp.scope, { url: `${files.url}/other.iso`, sha256: sha(iso) })).image;
    expect((await settled(wrong.id)).error).toMatch(/Checksum mismatch/);
    const tooBig = (await cp.services.images.register(cp.scope, { url: `${files.url}/big.iso` })).image;
    expect((await settled(tooBig.id)).error).toMatch(/over the limit/);
    const missing = (await cp.services.images.register(cp.scope, { url: `${files.url}/nope.iso` })).image;
    expect((await settled(missing.id)).error).toMatch(/HTTP 404/);
    expect(await storeFiles()).toEqual(before);
    // A failed image does not block trying the same URL again.
    const again = await cp.services.images.register(cp.scope, { url: `${files.url}/nope.iso` });
    expect(again.created).toBe(true);
    // Settled before the next test counts the store's files (its download writes a partial file).
    expect((await settled(again.image.id)).error).toMatch(/HTTP 404/);
  });

  it('refuses URLs that are not http(s)', async () => {
    for (const url of ['file:///etc/passwd', 'ftp://example.com/a.iso', 'not a url']) {
      await expect(cp.services.images.register(cp.scope, { url })).rejects.toMatchObject({ code: 'VALIDATION' });
    }
  });

  it('stores an upload, and refuses one over the limit leaving nothing', async () => {
    const up = await cp.services.images.upload(cp.scope, { name: 'up.iso', kind: 'iso' }, Readable.from([iso]));
    expect(up).toMatchObject({ status: 'ready', sha256: sha(iso), format: 'iso' });
    const before = await storeFiles();
    await expect(cp.services.images.upload(cp.scope, { name: 'huge.iso', kind: 'iso' }, Readable.from([big]))).rejects.toMatchObject({
      code: 'PAYLOAD_TOO_LARGE',
    });
    expect(await storeFiles()).toEqual(before);
  });

  it('boots a VM from an iso_url: provisioning until the ISO is in, then the CD-ROM holds it', async () => {
    const r = await cp.services.vms.create(cp.scope, { name: 'from-iso', iso_url: `${files.url}/tiny.iso`, ...small });
    expect(r.vm.status).toBe('provisioning');
    const { operation } = await cp.services.operations.wait(cp.scope, r.operation!.id, { timeout_ms: 10_000 });
    expect(operation.status).toBe('succeeded');
    const vm = await cp.services.vms.get(cp.scope, r.vm.id);
    expect(vm.iso_image_id).not.toBeNull();
    expect(vm.image_id).toBe(vm.iso_image_id);
    const ref = await cp.domainRef(vm.id);
    expect(cp.hypervisor.domains.get(ref)!.spec.iso_path).toBe(cp.images.pathOf(vm.iso_image_id!));

    // In use: the image cannot be deleted until it is ejected.
    await expect(cp.services.images.delete(cp.scope, vm.iso_image_id!)).rejects.toMatchObject({ code: 'IMAGE_IN_USE' });
    const ej = await cp.services.vms.eject_iso(cp.scope, vm.id);
    await cp.services.operations.wait(cp.scope, ej.operation!.id, { timeout_ms: 5_000 });
    expect((await cp.services.vms.get(cp.scope, vm.id)).iso_image_id).toBeNull();
    expect(cp.hypervisor.domains.get(ref)!.spec.iso_path).toBeNull();
    await expect(cp.services.vms.eject_iso(cp.scope, vm.id)).rejects.toMatchObject({
      code: 'VALIDATION',
      message: 'No CDROM device found',
    });

    const at = await cp.services.vms.attach_iso(cp.scope, vm.id, { image_id: vm.image_id! });
    await cp.services.operations.wait(cp.scope, at.operation!.id, { timeout_ms: 5_000 });
    expect((await cp.services.vms.get(cp.scope, vm.id)).iso_image_id).toBe(vm.image_id);
    const started = await cp.services.vms.start(cp.scope, vm.id);
    await cp.services.operations.wait(cp.scope, started.operation!.id, { timeout_ms: 5_000 });
    // Only a stopped VM changes media.
    await expect(cp.services.vms.eject_iso(cp.scope, vm.id)).rejects.toMatchObject({ code: 'INVALID_STATE' });
  });

  it('leaves a VM whose ISO download fails in error, with the reason', async () => {
    const r = await cp.services.vms.create(cp.scope, { name: 'bad-iso', iso_url: `${files.url}/gone.iso`, ...small });
    const { operation } = await cp.services.operations.wait(cp.scope, r.operation!.id, { timeout_ms: 10_000 });
    expect(operation.status).toBe('failed');
    const vm = await cp.services.vms.get(cp.scope, r.vm.id);
    expect(vm.status).toBe('error');
    expect(vm.last_error).toMatch(/HTTP 404/);
  });

  it('makes a VM disk from a disk image, and deletes an unused image with its file', async () => {
    const disk = (await cp.services.images.register(cp.scope, { url: `${files.url}/disk.img` })).image;
    expect(disk.kind).toBe('disk');
    expect(await settled(disk.id)).toMatchObject({ status: 'ready', format: 'raw' });
    const r = await cp.services.vms.create(cp.scope, { name: 'from-disk', image_id: disk.id, ...small });
    await cp.services.operations.wait(cp.scope, r.operation!.id, { timeout_ms: 10_000 });
    const vm = await cp.services.vms.get(cp.scope, r.vm.id);
    expect(vm).toMatchObject({ status: 'stopped', image_id: disk.id, iso_image_id: null });
    const [exported] = await cp.driver.exportDisks(await cp.domainRef(vm.id));
    expect((await readFile(exported!.path)).subarray(0, 10).toString()).toBe('a raw disk');

    await cp.services.images.delete(cp.scope, disk.id);
    await expect(cp.services.images.get(cp.scope, disk.id)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(await storeFiles()).not.toContain(disk.id);
  });
});
