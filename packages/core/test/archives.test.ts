import { createHash, randomBytes } from 'node:crypto';
import { open, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import tar from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256File, type ArchiveManifest } from '../src/index.js';
import { startTestControlPlane, type TestControlPlane } from '../src/testing/index.js';

const small = { cpu_cores: 1, memory_mb: 256, disk_gb: 1 };
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

let cp: TestControlPlane;
beforeAll(async () => {
  cp = await startTestControlPlane();
});
afterAll(() => cp?.shutdown());

async function stoppedVm(name: string) {
  const r = await cp.services.vms.create(cp.scope, { name, ...small });
  await cp.services.operations.wait(cp.scope, r.operation!.id, { timeout_ms: 5_000 });
  const [row] = await cp.database.sql`SELECT domain_ref FROM vms WHERE id = ${r.vm.id}`;
  return { id: r.vm.id, ref: row!.domain_ref as string };
}

async function collect(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of stream) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

/** A tar made entry by entry, for archives an export would never produce. */
async function makeTar(entries: { header: Parameters<ReturnType<typeof tar.pack>["entry"]>[0]; body?: Buffer | string }[]): Promise<Buffer> {
  const pack = tar.pack();
  for (const e of entries) (e.body === undefined ? pack.entry(e.header) : pack.entry(e.header, e.body));
  pack.finalize();
  return collect(pack as unknown as Readable);
}

function manifest(disks: ArchiveManifest['disks'], vm: Partial<ArchiveManifest['vm']> = {}): string {
  return JSON.stringify({
    format: 'hangar-vm',
    version: 1,
    exported_at: new Date().toISOString(),
    driver: 'test',
    vm: { name: 'crafted', cpu_cores: 1, memory_mb: 256, disk_gb: 1, os_type: 'linux', os_version: null, labels: {}, network: { type: 'nat', bridge_name: null }, vnc_enabled: false, ...vm },
    disks,
  });
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
      const [row] = await cp.database.sql`SELECT domain_ref FROM vms WHERE id = ${copy.id}`;
      const [copied] = await cp.driver.exportDisks(row!.domain_ref as string);
      expect(await sha256File(copied!.path)).toBe(want);
      const events = await cp.services.vms.events(cp.scope, copy.id);
      expect(events[0]!.message).toMatch(/imported from an archive of original/);
    }
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
    const disk = Buffer.concat([Buffer.from('disk bytes'), Buffer.alloc(1014)]);
    const good = (name = 'disk0.img') => manifest([{ name, format: 'raw', size: disk.length, sha256: sha(disk) }]);
    const cases: [string, () => Promise<Buffer>, RegExp][] = [
      ['not a tar', async () => randomBytes(8192), /Not a tar archive/],
      ['an empty body', async () => Buffer.alloc(0), /empty/],
      [
        'a truncated archive',
        async () => (await makeTar([{ header: { name: 'manifest.json' }, body: good() }, { header: { name: 'disks/disk0.img', size: disk.length }, body: disk }])).subarray(0, 1200),
        /truncated/,
      ],
      ['no manifest first', async () => makeTar([{ header: { name: 'disks/disk0.img' }, body: disk }]), /first entry must be manifest.json/],
      ['a manifest that is not JSON', async () => makeTar([{ header: { name: 'manifest.json' }, body: '{nope' }]), /not JSON/],
      ['an invalid manifest', async () => makeTar([{ header: { name: 'manifest.json' }, body: JSON.stringify({ format: 'hangar-vm', version: 9 }) }]), /manifest.json is invalid/],
      [
        'a missing disk',
        async () => makeTar([{ header: { name: 'manifest.json' }, body: good() }]),
        /missing disks\/disk0.img/,
      ],
      [
        'a checksum mismatch',
        async () => makeTar([{ header: { name: 'manifest.json' }, body: good() }, { header: { name: 'disks/disk0.img' }, body: Buffer.concat([Buffer.from('DISK'), disk.subarray(4)]) }]),
        /Checksum mismatch/,
      ],
      [
        'an entry with ..',
        async () => makeTar([{ header: { name: 'manifest.json' }, body: good() }, { header: { name: 'disks/../../etc/cron.d/evil' }, body: 'x' }]),
        /"\.\." in the path|not a normalized path/,
      ],
      ['an absolute path', async () => makeTar([{ header: { name: '/etc/passwd' }, body: 'x' }]), /absolute path/],
      [
        'a symlink',
        async () => makeTar([{ header: { name: 'manifest.json' }, body: good() }, { header: { name: 'disks/disk0.img', type: 'symlink', linkname: '/etc/shadow' } }]),
        /type symlink/,
      ],
      [
        'a hard link',
        async () => makeTar([{ header: { name: 'manifest.json' }, body: good() }, { header: { name: 'disks/disk0.img', type: 'link', linkname: 'manifest.json' } }]),
        /type link/,
      ],
      [
        'a device',
        async () => makeTar([{ header: { name: 'manifest.json' }, body: good() }, { header: { name: 'disks/disk0.img', type: 'character-device', devmajor: 1, devminor: 3 } }]),
        /type character-device/,
      ],
      [
        'an entry the manifest does not declare',
        async () => makeTar([{ header: { name: 'manifest.json' }, body: good() }, { header: { name: 'disks/disk0.img' }, body: disk }, { header: { name: 'disks/extra.img' }, body: disk }]),
        /does not declare/,
      ],
      [
        'an entry larger than declared',
        async () => makeTar([{ header: { name: 'manifest.json' }, body: good() }, { header: { name: 'disks/disk0.img' }, body: Buffer.concat([disk, disk]) }]),
        /manifest declares 1024/,
      ],
      [
        'a qcow2 disk naming a backing file',
        async () => {
          const q = Buffer.alloc(1024);
          q.writeUInt32BE(0x514649fb, 0);
          q.writeUInt32BE(3, 4);
          q.writeBigUInt64BE(512n, 8);
          return makeTar([{ header: { name: 'manifest.json' }, body: manifest([{ name: 'disk0.qcow2', format: 'qcow2', size: q.length, sha256: sha(q) }]) }, { header: { name: 'disks/disk0.qcow2' }, body: q }]);
        },
        /backing file/,
      ],
      [
        'a decompression bomb',
        async () => {
          const tarball = await makeTar([{ header: { name: 'manifest.json' }, body: good() }, { header: { name: 'disks/disk0.img' }, body: disk }]);
          // 200 MiB of zeros after the archive, a few hundred KiB once gzipped.
          return gzipSync(Buffer.concat([tarball, Buffer.alloc(200 * 2 ** 20)]), { level: 9 });
        },
        /expands past/,
      ],
      ['corrupt gzip', async () => Buffer.concat([Buffer.from([0x1f, 0x8b, 8, 0]), randomBytes(2000)]), /gzip stream is corrupt|Not a tar/],
    ];
    for (const [what, build, message] of cases) {
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
      const ok = await makeTar([{ header: { name: 'manifest.json' }, body: good() }, { header: { name: 'disks/disk0.img' }, body: disk }]);
      const vm = await cp.archives.importVm(cp.scope, Readable.from([ok]));
      expect(vm).toMatchObject({ name: 'crafted', status: 'stopped' });
      const [row] = await cp.database.sql`SELECT domain_ref FROM vms WHERE id = ${vm.id}`;
      const [d] = await cp.driver.exportDisks(row!.domain_ref as string);
      expect((await readFile(d!.path)).subarray(0, 10).toString()).toBe('disk bytes');
      await expect(cp.archives.importVm(cp.scope, Readable.from([ok]))).rejects.toMatchObject({ code: 'NAME_TAKEN' });
    });
  });
});
