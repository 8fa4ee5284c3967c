import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { readdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { errors } from '../domain/errors.js';
import type { ImageFormat, ImageKind } from '../domain/image.js';
import { PRIVATE_FILE_MODE, privateDir } from '../files/private.js';
import { detectFormat } from './disk-format.js';
import { Meter } from './meter.js';

/** A partial transfer untouched for this long was left by a process that died. */
export const STALE_PARTIAL_MS = 3_600_000;

export interface Ingested {
  sha256: string;
  size: number;
  format: ImageFormat;
}

export interface IngestOptions {
  kind: ImageKind;
  /** The bytes must hash to this, or nothing is kept. */
  expected_sha256?: string | null;
  onProgress?: (bytes: number) => void;
  signal?: AbortSignal;
}

/**
 * The image store: one file per image, `<root>/<image id>`. Bytes arrive in
 * `<root>/.partial/` and are renamed into place only when complete and checked, so a failed
 * or interrupted transfer never leaves a file that looks like an image.
 */
export class ImageStore {
  readonly partialDir: string;

  constructor(
    readonly root: string,
    /** Larger images are refused (PAYLOAD_TOO_LARGE). */
    readonly max_bytes = 64 * 2 ** 30,
  ) {
    this.partialDir = join(root, '.partial');
  }

  pathOf(id: string): string {
    return join(this.root, id);
  }

  /**
   * Removes transfers a dead process left behind: those untouched for an hour. A fleet's API
   * processes share the store, so a fresh one may be another process's download in progress
   * (a live transfer writes all the time; one that stalls fails within a minute).
   */
  async init(): Promise<void> {
    await privateDir(this.root);
    await privateDir(this.partialDir);
    for (const f of await readdir(this.partialDir)) {
      const path = join(this.partialDir, f);
      const since = await stat(path).then(
        (st) => Date.now() - st.mtimeMs,
        () => 0,
      );
      if (since > STALE_PARTIAL_MS) await rm(path, { force: true });
    }
  }

  async ingest(id: string, source: Readable, opts: IngestOptions): Promise<Ingested> {
    await privateDir(this.partialDir);
    const partial = join(this.partialDir, `${id}.${randomBytes(4).toString('hex')}`);
    const meter = new Meter(
      this.max_bytes,
      (l) => errors.payloadTooLarge(`The image is larger than the limit of ${l} bytes`),
      opts.onProgress,
    );
    const file = createWriteStream(partial, { mode: PRIVATE_FILE_MODE });
    try {
      await pipeline(source, meter, file, { signal: opts.signal });
      const sha256 = meter.digest();
      if (opts.expected_sha256 && opts.expected_sha256 !== sha256) {
        throw errors.validation(`Checksum mismatch: expected sha256 ${opts.expected_sha256}, got ${sha256}`);
      }
      let format: ImageFormat;
      try {
        format = await detectFormat(partial, opts.kind);
      } catch (err) {
        throw errors.validation((err as Error).message);
      }
      await rename(partial, this.pathOf(id));
      return { sha256, size: meter.bytes, format };
    } catch (err) {
      // A refusal can come before the file's open has finished: removed earlier, the file
      // would appear afterwards and stay.
      if (!file.closed) await new Promise<void>((resolve) => file.once('close', () => resolve()));
      await rm(partial, { force: true });
      throw err;
    }
  }

  async remove(id: string): Promise<void> {
    await rm(this.pathOf(id), { force: true });
  }
}
