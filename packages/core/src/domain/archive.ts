import { z } from 'zod';
import { CpuCores, DiskGb, Labels, MemoryMb, OsType, OsVersion, Text, Timestamp, VmName } from './fields.js';
import { Sha256 } from './image.js';
import { NetworkInput } from './vm.js';

export const ARCHIVE_FORMAT = 'hangar-vm';
export const ARCHIVE_VERSION = 1;

/** A disk inside an export: a plain file name under `disks/`. */
export const ArchiveDisk = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/, { message: 'disk names are plain file names' }),
  format: z.enum(['raw', 'qcow2']),
  size: z.int().min(0),
  sha256: Sha256,
});
export type ArchiveDisk = z.infer<typeof ArchiveDisk>;

/** `manifest.json`, the first entry of every export. */
export const ArchiveManifest = z.strictObject({
  format: z.literal(ARCHIVE_FORMAT),
  version: z.literal(ARCHIVE_VERSION),
  exported_at: Timestamp,
  /** The driver that exported it (informational). */
  driver: Text.max(64),
  vm: z.strictObject({
    name: VmName,
    cpu_cores: CpuCores,
    memory_mb: MemoryMb,
    disk_gb: DiskGb,
    os_type: OsType,
    os_version: OsVersion.nullable(),
    labels: Labels,
    // The API's own network schema: what an archive carries is checked as a request would be.
    network: NetworkInput,
    vnc_enabled: z.boolean(),
  }),
  disks: z.array(ArchiveDisk).min(1).max(16),
});
export type ArchiveManifest = z.infer<typeof ArchiveManifest>;

export const diskEntryName = (name: string) => `disks/${name}`;
