import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { statfs } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { Readable, Transform, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import tar from 'tar-stream';
import { ArchiveManifest, diskEntryName, type ArchiveManifest as Manifest } from '../../domain/archive.js';
import { errors, HangarError } from '../../domain/errors.js';
import type { ImageFormat } from '../../domain/image.js';
import { protoKeyPath } from '../../domain/proto-key.js';
import type { DiskFile } from '../../drivers/driver.js';
import { PRIVATE_FILE_MODE } from '../../files/private.js';
import { detectFormat } from '../../images/disk-format.js';
import { Meter } from '../../images/meter.js';

export interface ReadArchiveOptions {
  /** Where disk files are written while they arrive (the caller removes it). */
  dir: string;
  /** The most bytes the archive may expand to. */
  max_bytes: number;
  /** Bytes free where the disks will be written (default: statfs of `dir`). */
  free_bytes?: (dir: string) => Promise<number>;
  signal?: AbortSignal;
}

/** A disk file may exceed its VM's disk size by format metadata (qcow2 tables), not more. */
export const diskAllowance = (disk_gb: number) => Math.ceil(disk_gb * 2 ** 30 * 1.01) + 64 * 2 ** 20;

async function freeBytes(dir: string): Promise<number> {
  const s = await statfs(dir);
  return s.bavail * s.bsize;
}

const MAX_MANIFEST = 1024 * 1024;
/** Tar headers, padding and the end-of-archive blocks, on top of what the manifest declares. */
const TAR_OVERHEAD = (entries: number) => (entries + 1) * 2048 + 20 * 1024;

const invalid = (message: string) => errors.invalidArchive(message);

/** Counts expanded bytes; past the limit the archive is refused (a decompression bomb, or a lie). */
class ExpansionLimit extends Transform {
  bytes = 0;
  constructor(public limit: number) {
    super();
  }
  override _transform(chunk: Buffer, _e: BufferEncoding, cb: (err?: Error | null, data?: Buffer) => void): void {
    this.bytes += chunk.length;
    if (this.bytes > this.limit) {
      cb(invalid(`The archive expands past ${this.limit} bytes, more than it declares`));
      return;
    }
    cb(null, chunk);
  }
}

/**
 * Yields the body, un-gzipped when its first bytes are a gzip header. Stopping early leaves the
 * body undestroyed: the caller may read a refused upload's rest away, so that the client reads
 * the refusal rather than a reset connection.
 */
async function* maybeGunzip(body: Readable): AsyncGenerator<Buffer> {
  const chunks = body.iterator({ destroyOnReturn: false });
  const first = await chunks.next();
  if (first.done) throw invalid('The archive is empty');
  const head = first.value as Buffer;
  // Not `yield* chunks`: an error thrown into this generator (the pipeline failing) would be
  // passed on to the body's iterator, which then destroys the body.
  async function* whole(): AsyncGenerator<Buffer> {
    try {
      yield head;
      for (let r = await chunks.next(); !r.done; r = await chunks.next()) yield r.value as Buffer;
    } finally {
      await chunks.return?.(undefined);
    }
  }
  if (head[0] === 0x1f && head[1] === 0x8b) {
    const source = Readable.from(whole());
    const gunzip = createGunzip();
    // pipe() does not pass errors on: the reader of gunzip must hear of a failing body too.
    source.on('error', (err) => gunzip.destroy(err));
    try {
      yield* source.pipe(gunzip);
    } finally {
      source.destroy();
    }
  } else {
    yield* whole();
  }
}

function checkEntryName(name: string): void {
  if (name.startsWith('/') || /^[A-Za-z]:/.test(name) || name.includes('\\'))
    throw invalid(`Refusing entry ${JSON.stringify(name)}: absolute path`);
  if (name.split('/').includes('..')) throw invalid(`Refusing entry ${JSON.stringify(name)}: ".." in the path`);
  if (posix.normalize(name) !== name) throw invalid(`Refusing entry ${JSON.stringify(name)}: not a normalized path`);
}

async function readAll(stream: Readable, limit: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  let n = 0;
  for await (const c of stream) {
    n += (c as Buffer).length;
    if (n > limit) throw invalid(`manifest.json is larger than ${limit} bytes`);
    parts.push(c as Buffer);
  }
  return Buffer.concat(parts);
}

/**
 * Reads a VM archive as it streams in: `manifest.json` first, then exactly the disks it
 * declares, each written to `dir` and checked against its size and sha256. Anything else is
 * refused with INVALID_ARCHIVE: links, devices, directories, absolute or `..` paths, entries
 * the manifest does not declare or larger than declared, missing disks, bad checksums,
 * truncation, and archives that expand past what they declare.
 */
export async function readArchive(body: Readable, opts: ReadArchiveOptions): Promise<{ manifest: Manifest; disks: DiskFile[] }> {
  let manifest: Manifest | null = null;
  const disks = new Map<string, DiskFile>();
  const limit = new ExpansionLimit(opts.max_bytes);
  const extract = tar.extract();

  let entries = 0;
  const onEntry = async (header: tar.Header, stream: Readable): Promise<void> => {
    entries++;
    checkEntryName(header.name);
    if (header.type !== 'file')
      throw invalid(`Refusing entry ${JSON.stringify(header.name)}: type ${header.type}; only regular files are accepted`);
    if (!manifest) {
      if (header.name !== 'manifest.json') throw invalid(`The first entry must be manifest.json, not ${JSON.stringify(header.name)}`);
      const raw = await readAll(stream, MAX_MANIFEST);
      let json: unknown;
      try {
        json = JSON.parse(raw.toString('utf8'));
      } catch {
        throw invalid('manifest.json is not JSON');
      }
      const reserved = protoKeyPath(json);
      if (reserved) throw invalid(`manifest.json is invalid: ${reserved}: a key named __proto__ is not accepted`);
      const parsed = ArchiveManifest.safeParse(json);
      if (!parsed.success) {
        const why = parsed.error.issues
          .slice(0, 5)
          .map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`)
          .join('; ');
        throw invalid(`manifest.json is invalid: ${why}`);
      }
      manifest = parsed.data;
      const names = new Set(manifest.disks.map((d) => d.name));
      if (names.size !== manifest.disks.length) throw invalid('manifest.json names a disk twice');
      const diskBytes = manifest.disks.reduce((n, d) => n + d.size, 0);
      // Checked before a byte is written: a small gzip may declare (and expand to) a huge disk.
      if (diskBytes > diskAllowance(manifest.vm.disk_gb)) {
        throw invalid(`The archive's disks (${diskBytes} bytes) are larger than the VM's disk of ${manifest.vm.disk_gb} GB`);
      }
      const free = await (opts.free_bytes ?? freeBytes)(opts.dir);
      if (diskBytes > free) {
        throw errors.insufficientCapacity(`The archive's disks need ${diskBytes} bytes; the host has ${free} bytes free`, {
          retryable: false,
        });
      }
      const declared = diskBytes + raw.length + TAR_OVERHEAD(manifest.disks.length);
      limit.limit = Math.min(limit.limit, declared);
      return;
    }
    const disk = manifest.disks.find((d) => diskEntryName(d.name) === header.name);
    if (!disk) throw invalid(`Unexpected entry ${JSON.stringify(header.name)}: the manifest does not declare it`);
    if (disks.has(disk.name)) throw invalid(`${header.name} appears twice`);
    if ((header.size ?? 0) !== disk.size) throw invalid(`${header.name} is ${header.size} bytes; the manifest declares ${disk.size}`);
    const path = join(opts.dir, `${randomBytes(6).toString('hex')}-${disk.name}`);
    const meter = new Meter(disk.size, () => invalid(`${header.name} is larger than the manifest declares`));
    await pipeline(stream, meter, createWriteStream(path, { mode: PRIVATE_FILE_MODE }));
    const sha256 = meter.digest();
    if (sha256 !== disk.sha256)
      throw invalid(`Checksum mismatch for ${header.name}: the manifest says ${disk.sha256}, the data is ${sha256}`);
    let format: ImageFormat;
    try {
      format = await detectFormat(path, 'disk');
    } catch (err) {
      throw invalid(`${header.name}: ${(err as Error).message}`);
    }
    if (format !== disk.format) throw invalid(`${header.name} is ${format}; the manifest says ${disk.format}`);
    disks.set(disk.name, { name: disk.name, path, format: disk.format, size: disk.size });
  };

  extract.on('entry', (header, stream, next) => {
    // An entry's stream errors when the extraction fails; that failure reaches the pipeline
    // below. Unheard here, the entry's own 'error' would end the process.
    (stream as unknown as Readable).on('error', () => {});
    onEntry(header, stream as unknown as Readable).then(
      () => {
        (stream as unknown as Readable).resume();
        next();
      },
      (err: unknown) => {
        (stream as unknown as Readable).resume();
        extract.destroy(err as Error);
      },
    );
  });

  try {
    await pipeline(Readable.from(maybeGunzip(body)), limit, extract as unknown as Writable, { signal: opts.signal });
  } catch (err) {
    if (err instanceof HangarError) throw err;
    const msg = (err as Error).message ?? String(err);
    if (entries === 0 && !/zlib|header check/i.test(msg)) throw invalid('Not a tar archive (no valid tar header)');
    if (/unexpected end|premature close|truncated/i.test(msg)) throw invalid('The archive is truncated');
    if (/incorrect header check|invalid (block type|distance|stored)|unexpected end of file|zlib/i.test(msg))
      throw invalid(`The gzip stream is corrupt: ${msg}`);
    if (/invalid tar header|header/i.test(msg)) throw invalid('Not a tar archive (no valid tar header)');
    throw invalid(`The archive could not be read: ${msg}`);
  }
  if (!manifest) throw invalid('The archive has no manifest.json (not a Hangar VM export, or empty)');
  const m: Manifest = manifest;
  const missing = m.disks.filter((d) => !disks.has(d.name));
  if (missing.length) throw invalid(`The archive is truncated: missing ${missing.map((d) => diskEntryName(d.name)).join(', ')}`);
  return { manifest: m, disks: m.disks.map((d) => disks.get(d.name)!) };
}
