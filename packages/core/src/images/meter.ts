import { createHash } from 'node:crypto';
import { Transform } from 'node:stream';

/** Counts and hashes what passes through, and stops the stream past a limit. */
export class Meter extends Transform {
  bytes = 0;
  private readonly hash = createHash('sha256');
  constructor(
    private readonly limit: number,
    private readonly tooLarge: (limit: number) => Error,
    private readonly onProgress?: (bytes: number) => void,
  ) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null, data?: Buffer) => void): void {
    this.bytes += chunk.length;
    if (this.bytes > this.limit) {
      cb(this.tooLarge(this.limit));
      return;
    }
    this.hash.update(chunk);
    this.onProgress?.(this.bytes);
    cb(null, chunk);
  }
  digest(): string {
    return this.hash.digest('hex');
  }
}
