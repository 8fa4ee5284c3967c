import { createReadStream } from 'node:fs';
import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import tar from 'tar-stream';
import { type ArchiveDisk, type ArchiveManifest, diskEntryName } from '../../domain/archive.js';
import type { DiskFile } from '../../drivers/driver.js';
import { sha256File } from './sha256-file.js';

/** Each disk with its checksum, for the manifest (the disks are read once for this). */
export async function describeDisks(disks: DiskFile[], signal?: AbortSignal): Promise<ArchiveDisk[]> {
  const out: ArchiveDisk[] = [];
  for (const d of disks) out.push({ name: d.name, format: d.format, size: d.size, sha256: await sha256File(d.path, signal) });
  return out;
}

/**
 * A tar of `manifest.json` then `disks/<name>` for each disk, gzipped if asked, produced as
 * the reader pulls it: one disk chunk in memory at a time, whatever the disk's size.
 */
export function archiveStream(manifest: ArchiveManifest, disks: DiskFile[], opts: { gzip: boolean }): Readable {
  const pack = tar.pack();
  const out = new PassThrough();
  const fail = (err: unknown) => out.destroy(err instanceof Error ? err : new Error(String(err)));
  void (async () => {
    const mtime = new Date();
    pack.entry({ name: 'manifest.json', mode: 0o644, mtime }, `${JSON.stringify(manifest, null, 2)}\n`);
    for (const d of disks) {
      const entry = pack.entry({ name: diskEntryName(d.name), size: d.size, mode: 0o644, mtime });
      await pipeline(createReadStream(d.path, { highWaterMark: 1024 * 1024 }), entry);
    }
    pack.finalize();
  })().catch((err: unknown) => {
    pack.destroy(err as Error);
    fail(err);
  });
  const stages: NodeJS.ReadWriteStream[] = opts.gzip ? [createGzip({ level: 6 })] : [];
  pipeline([pack, ...stages, out] as unknown as [Readable, PassThrough]).catch(fail);
  return out;
}
