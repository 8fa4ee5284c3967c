import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { XMLParser } from 'fast-xml-parser';
import { create } from 'xmlbuilder2';
import { z } from 'zod';
import { DriverError } from '../driver.js';
import type { LibvirtRemote, PoolHandle, VolumeHandle } from './rpc/remote.js';

export type DiskFormat = 'qcow2' | 'raw';

const POOL_RUNNING = 2;
const GB = 2n ** 30n;

/** The volume name of a VM's disk: its id, and the format as the extension. */
export const volumeName = (vmId: string, format: DiskFormat) => `${vmId}.${format === 'qcow2' ? 'qcow2' : 'img'}`;

/** The pool directory a VM's console log goes to (virtlogd writes it; the pool's directory exists on the libvirt host). */
export const consoleLogName = (vmId: string) => `${vmId}.console.log`;

const VolumeXml = z.object({ volume: z.object({ target: z.object({ format: z.object({ '@type': z.string() }).optional() }) }) });
const PoolXml = z.object({ pool: z.object({ target: z.object({ path: z.string().min(1) }) }) });

/**
 * VMs' disks as volumes of one libvirt storage pool (a directory pool, `hangar` by default),
 * made, grown, filled and read through libvirt itself: the same calls whether libvirtd is on
 * this machine or reached over ssh. Made on first use where it does not exist, marked
 * autostart, so it is there after the host reboots.
 */
export class DiskPool {
  private known: Promise<{ pool: PoolHandle; dir: string }> | null = null;

  constructor(private readonly opts: { name: string; dir: string }) {}

  /** The pool, and the directory it keeps volumes in on the libvirt host. */
  ensure(r: LibvirtRemote): Promise<{ pool: PoolHandle; dir: string }> {
    this.known ??= this.open(r).catch((err: unknown) => {
      this.known = null;
      throw err;
    });
    return this.known;
  }

  /** Forgets what it knew (after a reconnect, say: the pool may have been removed meanwhile). */
  reset(): void {
    this.known = null;
  }

  async find(r: LibvirtRemote, vmId: string): Promise<{ vol: VolumeHandle; format: DiskFormat } | null> {
    const { pool } = await this.ensure(r);
    for (const format of ['qcow2', 'raw'] as const) {
      const vol = await r.volumeByName(pool, volumeName(vmId, format));
      if (vol) return { vol, format };
    }
    return null;
  }

  /** An empty qcow2 disk of `gb`. */
  async createBlank(r: LibvirtRemote, vmId: string, gb: number, signal?: AbortSignal): Promise<VolumeHandle> {
    const { pool } = await this.ensure(r);
    return r.createVolume(pool, volumeXml(volumeName(vmId, 'qcow2'), 'qcow2', BigInt(gb) * GB), { signal });
  }

  /**
   * A disk of `gb` holding a copy of `source` (an image in the store, or an imported disk),
   * uploaded through libvirt: a qcow2 source stays qcow2 and grows to `gb`, a raw one is a raw
   * disk of `gb`. A source larger than `gb` is refused before anything is made.
   */
  async createFrom(
    r: LibvirtRemote,
    vmId: string,
    gb: number,
    source: { path: string; format: DiskFormat },
    signal?: AbortSignal,
  ): Promise<VolumeHandle> {
    const want = BigInt(gb) * GB;
    const virtual = await virtualSize(source.path, source.format);
    if (virtual > want) throw new DriverError('failed', `the disk image is ${virtual} bytes, larger than disk_gb ${gb}`);
    const { pool } = await this.ensure(r);
    const name = volumeName(vmId, source.format);
    // A qcow2 volume is made at the image's own size, so the upload replaces it byte for byte.
    const size = source.format === 'qcow2' ? BigInt((await open(source.path).then(statAndClose)).size) : want;
    let vol = await r.createVolume(pool, volumeXml(name, 'raw', size), { signal });
    try {
      await r.upload(vol, createReadStream(source.path), { signal });
      // libvirt reads what the upload made (a qcow2 header) again before it grows it.
      await r.refreshPool(pool, { signal });
      vol = (await r.volumeByName(pool, name, { signal })) ?? vol;
      if (source.format === 'qcow2' && virtual < want) await r.resizeVolume(vol, want, { signal });
      return vol;
    } catch (err) {
      await r.deleteVolume(vol).catch(() => {});
      throw err;
    }
  }

  /**
   * Grows a disk, if libvirt still sees it in the format it was made in: a dir pool guesses
   * formats from content when it refreshes, and a guest can write a qcow2 header (naming a
   * backing file) into its raw disk. Such a disk is not resized, nor opened as qcow2.
   */
  async grow(r: LibvirtRemote, vol: VolumeHandle, format: DiskFormat, gb: number, signal?: AbortSignal): Promise<void> {
    const seen = VolumeXml.safeParse(
      new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '@' }).parse(await r.volumeXml(vol, { signal })),
    );
    const type = seen.success ? seen.data.volume.target.format?.['@type'] : undefined;
    if (type !== format) {
      throw new DriverError(
        'failed',
        `libvirt sees the disk as ${type ?? 'an unknown format'}, not the ${format} it was made as: not resized`,
      );
    }
    await r.resizeVolume(vol, BigInt(gb) * GB, { signal });
  }

  async remove(r: LibvirtRemote, vmId: string): Promise<void> {
    const found = await this.find(r, vmId);
    if (found) await r.deleteVolume(found.vol);
  }

  /** Free space in the pool, in whole GB. */
  async freeGb(r: LibvirtRemote): Promise<number> {
    const { pool } = await this.ensure(r);
    return Number((await r.poolInfo(pool)).available / GB);
  }

  private async open(r: LibvirtRemote): Promise<{ pool: PoolHandle; dir: string }> {
    let pool = await r.poolByName(this.opts.name);
    if (!pool) {
      pool = await r.definePool(poolXml(this.opts.name, this.opts.dir));
      await r.buildPool(pool);
      await r.setPoolAutostart(pool, true);
    }
    if ((await r.poolInfo(pool)).state !== POOL_RUNNING) await r.startPool(pool);
    const parsed = PoolXml.safeParse(new XMLParser().parse(await r.poolXml(pool)));
    if (!parsed.success) throw new DriverError('failed', `storage pool ${this.opts.name} has no target directory`);
    return { pool, dir: parsed.data.pool.target.path };
  }
}

/** A directory pool whose directory QEMU (libvirt's user) may pass through but nobody may list. */
function poolXml(name: string, dir: string): string {
  const doc = create({ version: '1.0' });
  const pool = doc.ele('pool', { type: 'dir' });
  pool.ele('name').txt(name);
  const target = pool.ele('target');
  target.ele('path').txt(dir);
  target.ele('permissions').ele('mode').txt('0711');
  return doc.end({ prettyPrint: true });
}

/** A volume of `bytes`, private to its owner (libvirt hands it to QEMU's user while the VM runs). */
function volumeXml(name: string, format: DiskFormat, bytes: bigint): string {
  const doc = create({ version: '1.0' });
  const vol = doc.ele('volume');
  vol.ele('name').txt(name);
  vol.ele('capacity', { unit: 'bytes' }).txt(String(bytes));
  vol.ele('allocation', { unit: 'bytes' }).txt('0');
  const target = vol.ele('target');
  target.ele('format', { type: format });
  target.ele('permissions').ele('mode').txt('0600');
  return doc.end({ prettyPrint: true });
}

async function statAndClose(fh: import('node:fs/promises').FileHandle) {
  try {
    return await fh.stat();
  } finally {
    await fh.close();
  }
}

/** The size a guest sees: a qcow2 header's `size` field (bytes 24..31), or a raw file's length. */
async function virtualSize(path: string, format: DiskFormat): Promise<bigint> {
  const fh = await open(path);
  try {
    if (format === 'raw') return BigInt((await fh.stat()).size);
    const head = Buffer.alloc(32);
    await fh.read(head, 0, 32, 0);
    if (head.readUInt32BE(0) !== 0x514649fb) throw new DriverError('failed', 'the disk image is not qcow2');
    return head.readBigUInt64BE(24);
  } finally {
    await fh.close();
  }
}
