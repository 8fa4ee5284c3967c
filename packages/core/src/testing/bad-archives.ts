import { createHash, randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import tar from 'tar-stream';
import type { ArchiveManifest } from '../domain/archive.js';

/** Archives an import must refuse, for the core tests (service) and the server's (over HTTP). */

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

type Header = Parameters<ReturnType<typeof tar.pack>['entry']>[0];

/** A tar made entry by entry, for archives an export would never produce. */
export async function makeTar(entries: { header: Header; body?: Buffer | string }[]): Promise<Buffer> {
  const pack = tar.pack();
  for (const e of entries) e.body === undefined ? pack.entry(e.header) : pack.entry(e.header, e.body);
  pack.finalize();
  const parts: Buffer[] = [];
  for await (const c of pack as unknown as Readable) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

export function archiveManifest(disks: ArchiveManifest['disks'], vm: Partial<ArchiveManifest['vm']> = {}): string {
  return JSON.stringify({
    format: 'hangar-vm',
    version: 1,
    exported_at: new Date().toISOString(),
    driver: 'test',
    vm: {
      name: 'crafted',
      cpu_cores: 1,
      memory_mb: 256,
      disk_gb: 1,
      os_type: 'linux',
      os_version: null,
      labels: {},
      network: { type: 'nat', bridge_name: null },
      vnc_enabled: false,
      ...vm,
    },
    disks,
  });
}

/** A 1 KiB raw disk, and a manifest that declares it exactly. */
export const archiveDisk = Buffer.concat([Buffer.from('disk bytes'), Buffer.alloc(1014)]);
const good = (name = 'disk0.img', vm: Partial<ArchiveManifest['vm']> = {}) =>
  archiveManifest([{ name, format: 'raw', size: archiveDisk.length, sha256: sha(archiveDisk) }], vm);

/** The well-formed archive every bad one below differs from by its flaw. */
export const goodArchive = () =>
  makeTar([
    { header: { name: 'manifest.json' }, body: good() },
    { header: { name: 'disks/disk0.img' }, body: archiveDisk },
  ]);

export interface BadArchive {
  what: string;
  build: () => Promise<Buffer>;
  /** What the refusal must say. */
  message: RegExp;
}

export const BAD_ARCHIVES: BadArchive[] = [
  { what: 'not a tar', build: async () => randomBytes(8192), message: /Not a tar archive/ },
  { what: 'an empty body', build: async () => Buffer.alloc(0), message: /empty/ },
  {
    what: 'a truncated archive',
    build: async () => (await goodArchive()).subarray(0, 1200),
    message: /truncated/,
  },
  {
    what: 'no manifest first',
    build: () => makeTar([{ header: { name: 'disks/disk0.img' }, body: archiveDisk }]),
    message: /first entry must be manifest.json/,
  },
  {
    what: 'a first entry of 1 MiB that is not the manifest',
    build: () => makeTar([{ header: { name: 'big.bin' }, body: randomBytes(2 ** 20) }]),
    message: /first entry must be manifest.json/,
  },
  {
    what: 'a manifest that is not JSON',
    build: () => makeTar([{ header: { name: 'manifest.json' }, body: '{nope' }]),
    message: /not JSON/,
  },
  {
    what: 'an invalid manifest',
    build: () => makeTar([{ header: { name: 'manifest.json' }, body: JSON.stringify({ format: 'hangar-vm', version: 9 }) }]),
    message: /manifest.json is invalid/,
  },
  {
    what: 'a bridge name that would add QEMU options',
    build: () =>
      makeTar([
        {
          header: { name: 'manifest.json' },
          body: good('disk0.img', { network: { type: 'bridge', bridge_name: 'x,helper=sh -c id>out' } }),
        },
        { header: { name: 'disks/disk0.img' }, body: archiveDisk },
      ]),
    message: /manifest.json is invalid: vm.network.bridge_name/,
  },
  {
    // Its labels' schema would drop the key and take the rest.
    what: 'a label keyed __proto__',
    build: () =>
      makeTar([
        { header: { name: 'manifest.json' }, body: good().replace('"labels":{}', '"labels":{"__proto__":{"evil":"1"}}') },
        { header: { name: 'disks/disk0.img' }, body: archiveDisk },
      ]),
    message: /manifest.json is invalid: vm.labels.__proto__: a key named __proto__ is not accepted/,
  },
  {
    what: 'a missing disk',
    build: () => makeTar([{ header: { name: 'manifest.json' }, body: good() }]),
    message: /missing disks\/disk0.img/,
  },
  {
    what: 'a checksum mismatch',
    build: () =>
      makeTar([
        { header: { name: 'manifest.json' }, body: good() },
        { header: { name: 'disks/disk0.img' }, body: Buffer.concat([Buffer.from('DISK'), archiveDisk.subarray(4)]) },
      ]),
    message: /Checksum mismatch/,
  },
  {
    what: 'an entry with ..',
    build: () =>
      makeTar([
        { header: { name: 'manifest.json' }, body: good() },
        { header: { name: 'disks/../../etc/cron.d/evil' }, body: 'x' },
      ]),
    message: /"\.\." in the path|not a normalized path/,
  },
  { what: 'an absolute path', build: () => makeTar([{ header: { name: '/etc/passwd' }, body: 'x' }]), message: /absolute path/ },
  {
    what: 'a symlink',
    build: () =>
      makeTar([
        { header: { name: 'manifest.json' }, body: good() },
        { header: { name: 'disks/disk0.img', type: 'symlink', linkname: '/etc/shadow' } },
      ]),
    message: /type symlink/,
  },
  {
    what: 'a hard link',
    build: () =>
      makeTar([
        { header: { name: 'manifest.json' }, body: good() },
        { header: { name: 'disks/disk0.img', type: 'link', linkname: 'manifest.json' } },
      ]),
    message: /type link/,
  },
  {
    what: 'a device',
    build: () =>
      makeTar([
        { header: { name: 'manifest.json' }, body: good() },
        { header: { name: 'disks/disk0.img', type: 'character-device', devmajor: 1, devminor: 3 } },
      ]),
    message: /type character-device/,
  },
  {
    what: 'an entry the manifest does not declare',
    build: () =>
      makeTar([
        { header: { name: 'manifest.json' }, body: good() },
        { header: { name: 'disks/disk0.img' }, body: archiveDisk },
        { header: { name: 'disks/extra.img' }, body: archiveDisk },
      ]),
    message: /does not declare/,
  },
  {
    what: 'an entry larger than declared',
    build: () =>
      makeTar([
        { header: { name: 'manifest.json' }, body: good() },
        { header: { name: 'disks/disk0.img' }, body: Buffer.concat([archiveDisk, archiveDisk]) },
      ]),
    message: /manifest declares 1024/,
  },
  {
    what: 'a disk of 1 MiB whose header size disagrees with the manifest',
    build: () =>
      makeTar([
        { header: { name: 'manifest.json' }, body: good() },
        { header: { name: 'disks/disk0.img' }, body: randomBytes(2 ** 20) },
      ]),
    message: /manifest declares 1024/,
  },
  {
    what: 'a disk larger than the VM it belongs to',
    build: async () => {
      // A VM of 1 GB declaring a disk of 2 GiB: refused before a byte of it is written.
      const size = 2 * 2 ** 30;
      const m = archiveManifest([{ name: 'disk0.img', format: 'raw', size, sha256: '0'.repeat(64) }]);
      return makeTar([{ header: { name: 'manifest.json' }, body: m }]);
    },
    message: /larger than the VM's disk/,
  },
  {
    what: 'a qcow2 disk naming a backing file',
    build: async () => {
      const q = Buffer.alloc(1024);
      q.writeUInt32BE(0x514649fb, 0);
      q.writeUInt32BE(3, 4);
      q.writeBigUInt64BE(512n, 8);
      return makeTar([
        {
          header: { name: 'manifest.json' },
          body: archiveManifest([{ name: 'disk0.qcow2', format: 'qcow2', size: q.length, sha256: sha(q) }]),
        },
        { header: { name: 'disks/disk0.qcow2' }, body: q },
      ]);
    },
    message: /backing file/,
  },
  {
    what: 'a decompression bomb',
    build: async () => {
      const tarball = await goodArchive();
      // 200 MiB of zeros after the archive, a few hundred KiB once gzipped.
      return gzipSync(Buffer.concat([tarball, Buffer.alloc(200 * 2 ** 20)]), { level: 9 });
    },
    message: /expands past/,
  },
  {
    what: 'corrupt gzip',
    build: async () => Buffer.concat([Buffer.from([0x1f, 0x8b, 8, 0]), randomBytes(2000)]),
    message: /gzip stream is corrupt|Not a tar/,
  },
];
