import { randomBytes } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { ensureProject, type Scope, silentLogger, UrlPolicy } from '../src/index.js';
import { goodArchive, serveFiles, startTestControlPlane, type TestControlPlane } from '../src/testing/index.js';
import { ImageDownloader } from '../src/worker/image-downloads.js';

// Per-project quotas: an admin's limits, checked in the transaction that takes the resources,
// so one tenant cannot fill the hosts others need.

let cp: TestControlPlane | undefined;
afterEach(async () => {
  await cp?.shutdown();
  cp = undefined;
});

const vm = (name: string, cpu_cores = 1) => ({ name, cpu_cores, memory_mb: 256, disk_gb: 1 });
const iso = () => Buffer.concat([Buffer.alloc(32769), Buffer.from('CD001'), randomBytes(64)]);
const count = async (c: TestControlPlane, table: string) =>
  (await c.database.sql.unsafe(`SELECT count(*)::int AS n FROM ${table}`))[0]!.n as number;

describe('quotas', () => {
  it('are unlimited until set, then refuse VMs, vCPUs, memory and disk past them, naming the limit', async () => {
    cp = await startTestControlPlane();
    const { services, scope } = cp;
    expect((await services.projects.quotas(scope.project_id)).limits).toEqual({
      vms: null,
      cpu_cores: null,
      memory_mb: null,
      disk_gb: null,
      images: null,
      running_downloads: null,
      gpus: null,
    });
    await services.projects.set_quotas(scope.project_id, { vms: 2, cpu_cores: 3, memory_mb: 1024, disk_gb: 10 });
    const a = await services.vms.create(scope, vm('a', 1));
    await services.vms.create(scope, vm('b', 2));
    await expect(services.vms.create(scope, vm('c', 1))).rejects.toMatchObject({
      code: 'QUOTA_EXCEEDED',
      message: 'Project quota exceeded: 2 of 2 VMs in use, and this needs 1 more',
      details: { quota: 'vms', limit: 2, used: 2, requested: 1 },
    });
    expect(await count(cp, 'vms')).toBe(2);

    // Growth counts too: a resize past the vCPU limit.
    await services.operations.wait(scope, a.operation!.id, { timeout_ms: 5_000 });
    await expect(services.vms.update(scope, a.vm.id, { cpu_cores: 2 })).rejects.toMatchObject({
      code: 'QUOTA_EXCEEDED',
      details: { quota: 'cpu_cores' },
    });
    expect((await services.vms.get(scope, a.vm.id)).cpu_cores).toBe(1);

    await services.projects.set_quotas(scope.project_id, { memory_mb: 600 });
    await expect(services.vms.create(scope, vm('d'))).rejects.toMatchObject({
      code: 'QUOTA_EXCEEDED',
      details: { quota: 'memory_mb', used: 512 },
    });
    // Deleting frees the quota.
    const del = await services.vms.delete(scope, a.vm.id);
    await services.operations.wait(scope, del.operation!.id, { timeout_ms: 5_000 });
    expect((await services.vms.create(scope, vm('d'))).vm.name).toBe('d');
    expect((await services.projects.quotas(scope.project_id)).usage).toMatchObject({ vms: 2, cpu_cores: 3, memory_mb: 512, disk_gb: 2 });
  });

  it('holds under concurrent creates, and leaves other projects alone', async () => {
    cp = await startTestControlPlane({ worker: false });
    const { services, scope } = cp;
    await services.projects.set_quotas(scope.project_id, { vms: 3 });
    const results = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => services.vms.create(scope, vm(`racer-${i}`))));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(3);
    for (const r of results) if (r.status === 'rejected') expect(r.reason).toMatchObject({ code: 'QUOTA_EXCEEDED' });
    const other: Scope = { project_id: (await ensureProject(cp.database.db, 'neighbour')).id, actor: 'n' };
    expect((await services.vms.create(other, vm('free'))).vm.name).toBe('free');
  });

  it('bounds images (uploads, downloads, ISOs by URL) and imports, leaving nothing behind', async () => {
    cp = await startTestControlPlane();
    const { services, scope } = cp;
    await services.projects.set_quotas(scope.project_id, { images: 1, vms: 0 });
    await services.images.upload(scope, { name: 'one.iso' }, Readable.from([iso()]));
    await expect(services.images.upload(scope, { name: 'two.iso' }, Readable.from([iso()]))).rejects.toMatchObject({
      code: 'QUOTA_EXCEEDED',
      details: { quota: 'images' },
    });
    await expect(services.images.register(scope, { url: 'http://example.com/x.iso' })).rejects.toMatchObject({ code: 'QUOTA_EXCEEDED' });
    expect((await readdir(cp.images.root)).filter((f) => f !== '.partial')).toHaveLength(1);
    expect(await count(cp, 'images')).toBe(1);

    const domains = cp.hypervisor.domains.size;
    await expect(cp.archives.importVm(scope, Readable.from([await goodArchive()]))).rejects.toMatchObject({
      code: 'QUOTA_EXCEEDED',
      details: { quota: 'vms' },
    });
    expect(cp.hypervisor.domains.size).toBe(domains);
    expect(await count(cp, 'vms')).toBe(0);
  });

  it('runs at most the quota of downloads of a project at once', async () => {
    const files = await serveFiles({ '/slow.img': { body: randomBytes(32), trickle_ms: 30 } });
    try {
      cp = await startTestControlPlane({ worker: false });
      const { services, scope } = cp;
      await services.projects.set_quotas(scope.project_id, { running_downloads: 1 });
      const ids = [];
      for (let i = 0; i < 3; i++)
        ids.push((await services.images.register(scope, { url: `${files.url}/slow.img?${i}`, kind: 'disk' })).image.id);
      const downloader = new ImageDownloader({
        db: cp.database.db,
        store: cp.images,
        url_policy: new UrlPolicy(['127.0.0.1']),
        concurrency: 3,
        poll_ms: 20,
        logger: silentLogger,
      });
      let most = 0;
      const sampler = setInterval(() => {
        void cp!.database.sql`SELECT count(*)::int AS n FROM images WHERE status = 'downloading'`.then(
          ([r]) => (most = Math.max(most, r!.n as number)),
        );
      }, 10);
      downloader.start();
      try {
        await expect
          .poll(async () => (await services.images.list(scope)).images.every((i) => i.status === 'ready'), { timeout: 15_000 })
          .toBe(true);
      } finally {
        clearInterval(sampler);
        await downloader.stop();
      }
      expect(most).toBe(1);
    } finally {
      await files.close();
    }
  });
});
