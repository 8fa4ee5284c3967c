import { open, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256File, VmArchives } from '../src/index.js';
import { BAD_ARCHIVES, goodArchive, startTestControlPlane, type TestControlPlane } from '../src/testing/index.js';

const small = { cpu_cores: 1, memory_mb: 256, disk_gb: 1 };

let cp: TestControlPlane;
beforeAll(async () => {
  cp = await startTestControlPlane();
});
afterAll(() => cp?.shutdown());

async function stoppedVm(name: string) {
  const r = await cp.services.vms.create(cp.scope, { name, ...small });
  await cp.services.operations.wait(cp.scope, r.operation!.id, { timeout_ms: 5_000 });
  return { id: r.vm.id, ref: await cp.domainRef(r.vm.id) };
}

async function collect(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of stream) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

async function leftovers() {
  const vms = await cp.database.sql`SELECT count(*)::int AS n FROM vms`;
  const imports = await readdir(join(cp.dataDir, 'imports'));
  const disks = await readdir(join(cp.dataDir, 'sim-disks')).catch(() => []);
  return { vms: vms[0]!.n as number, imports, disks: disks.length };
}

describe('export and import', () => {
  it('round-trips a stopped VM: same disk bytes, a new VM stopped under a new name', async () => {
    const src = await stoppedVm('original');
    const [disk] = await cp.driver.exportDisks(src.ref);
    // Data in the middle of the sparse disk.
    const fh = await open(disk!.path, 'r+');
    await fh.write(Buffer.from('hangar was here'), 0, 15, 300 * 2 ** 10);
    await fh.close();
    const want = await sha256File(disk!.path);

    for (const gzip of [false, true]) {
      const exp = await cp.archives.exportVm(cp.scope, src.id, { gzip });
      expect(exp.vm.status).toBe('exporting');
      expect(exp.content_type).toBe(gzip ? 'application/gzip' : 'application/x-tar');
      const bytes = await collect(exp.stream);
      await cp.services.operations.wait(cp.scope, exp.operation.id, { timeout_ms: 5_000 });
      expect((await cp.services.operations.get(cp.scope, exp.operation.id)).status).toBe('succeeded');
      expect((await cp.services.vms.get(cp.scope, src.id)).status).toBe('stopped');

      const copy = await cp.archives.importVm(cp.scope, Readable.from([bytes]), { name: gzip ? 'copy-gz' : 'copy' });
      expect(copy).toMatchObject({ status: 'stopped', cpu_cores: 1, memory_mb: 256, disk_gb: 1, name: gzip ? 'copy-gz' : 'copy' });
      const [copied] = await cp.driver.exportDisks(await cp.domainRef(copy.id));
      expect(await sha256File(copied!.path)).toBe(want);
      const events = await cp.services.vms.events(cp.scope, copy.id);
      expect(events[0]!.message).toMatch(/imported from an archive of original/);
    }
  });

  it('refuses both up front on a host whose driver takes no archives, beginning nothing', async () => {
    const src = await stoppedVm('no-archives');
    const hostId = cp.hosts[0]!.id;
    // The same driver without the optional archive capability.
    const bare = Object.assign(Object.create(cp.driver), { exportDisks: undefined, importDomain: undefined });
    const archives = new VmArchives({
      db: cp.database.db,
      drivers: new Map([[hostId, bare]]),
      importDir: join(cp.dataDir, 'bare-imports'),
    });
    const opsBefore = (await cp.services.operations.list(cp.scope, { vm_id: src.id, limit: 100 })).operations.length;
    await expect(archives.exportVm(cp.scope, src.id)).rejects.toMatchObject({
      code: 'UNSUPPORTED',
      message: 'Exporting VMs is not supported by the simulated driver of this host',
    });
    expect((await cp.services.operations.list(cp.scope, { vm_id: src.id, limit: 100 })).operations).toHaveLength(opsBefore);
    expect((await cp.services.vms.get(cp.scope, src.id)).status).toBe('stopped');
    await expect(archives.importVm(cp.scope, Readable.from([await goodArchive()]))).rejects.toMatchObject({ code: 'UNSUPPORTED' });
  });

  it('refuses to export a VM that is not stopped', async () => {
    const r = await cp.services.vms.create(cp.scope, { name: 'running-one', start: true, ...small });
    await cp.services.operations.wait(cp.scope, r.operation!.id, { timeout_ms: 5_000 });
    await expect(cp.archives.exportVm(cp.scope, r.vm.id)).rejects.toMatchObject({ code: 'INVALID_STATE' });
  });

  it('returns the VM to stopped when the reader goes away mid-stream', async () => {
    const src = await stoppedVm('abandoned');
    const exp = await cp.archives.exportVm(cp.scope, src.id);
    const it = exp.stream[Symbol.asyncIterator]();
    await it.next();
    exp.stream.destroy();
    const seen = await cp.services.vms.wait(cp.scope, src.id, 'stopped', { timeout_ms: 5_000 });
    expect(seen.timed_out).toBe(false);
    const op = await cp.services.operations.get(cp.scope, exp.operation.id);
    expect(op).toMatchObject({ status: 'failed', error: expect.stringMatching(/stopped reading/) });
    // And it can be exported again.
    const again = await cp.archives.exportVm(cp.scope, src.id);
    await collect(again.stream);
  });

  describe('refuses bad archives with INVALID_ARCHIVE, leaving nothing behind', () => {
    for (const { what, build, message } of BAD_ARCHIVES) {
      it(what, async () => {
        const before = await leftovers();
        const body = await build();
        await expect(cp.archives.importVm(cp.scope, Readable.from([body]), { name: 'never' })).rejects.toMatchObject({
          code: 'INVALID_ARCHIVE',
          message: expect.stringMatching(message),
        });
        expect(await leftovers()).toEqual(before);
      });
    }

    it('accepts the same archive when it is well formed (the cases above differ only in their flaw)', async () => {
      const ok = await goodArchive();
      const vm = await cp.archives.importVm(cp.scope, Readable.from([ok]));
      expect(vm).toMatchObject({ name: 'crafted', status: 'stopped' });
      const [d] = await cp.driver.exportDisks(await cp.domainRef(vm.id));
      expect((await readFile(d!.path)).subarray(0, 10).toString()).toBe('disk bytes');
      await expect(cp.archives.importVm(cp.scope, Readable.from([ok]))).rejects.toMatchObject({ code: 'NAME_TAKEN' });
    });
  });
});
