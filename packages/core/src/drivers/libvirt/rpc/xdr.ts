/**
 * XDR (RFC 4506), the encoding of libvirt's RPC protocol: big-endian 4-byte words, strings
 * and variable opaques length-prefixed and padded to a word, optional values as a bool
 * followed by the value. Only what the remote protocol's messages use.
 */
export class XdrWriter {
  private buf = Buffer.alloc(256);
  private len = 0;

  private reserve(n: number): void {
    if (this.len + n <= this.buf.length) return;
    const next = Buffer.alloc(Math.max(this.buf.length * 2, this.len + n));
    this.buf.copy(next, 0, 0, this.len);
    this.buf = next;
  }

  int(v: number): this {
    this.reserve(4);
    this.buf.writeInt32BE(v, this.len);
    this.len += 4;
    return this;
  }

  uint(v: number): this {
    this.reserve(4);
    this.buf.writeUInt32BE(v >>> 0, this.len);
    this.len += 4;
    return this;
  }

  uhyper(v: bigint | number): this {
    this.reserve(8);
    this.buf.writeBigUInt64BE(BigInt(v), this.len);
    this.len += 8;
    return this;
  }

  bool(v: boolean): this {
    return this.int(v ? 1 : 0);
  }

  /** Fixed-length opaque data (a UUID): no length prefix. */
  fixedOpaque(bytes: Uint8Array): this {
    const padded = (bytes.length + 3) & ~3;
    this.reserve(padded);
    this.buf.fill(0, this.len, this.len + padded);
    Buffer.from(bytes).copy(this.buf, this.len);
    this.len += padded;
    return this;
  }

  opaque(bytes: Uint8Array): this {
    this.uint(bytes.length);
    return this.fixedOpaque(bytes);
  }

  string(s: string): this {
    return this.opaque(Buffer.from(s, 'utf8'));
  }

  /** libvirt's `remote_string`: a string that may be absent. */
  optString(s: string | null): this {
    this.bool(s !== null);
    return s === null ? this : this.string(s);
  }

  bytes(): Buffer {
    return this.buf.subarray(0, this.len);
  }
}

export class XdrError extends Error {
  override readonly name = 'XdrError';
}

export class XdrReader {
  private pos = 0;
  constructor(private readonly buf: Buffer) {}

  private need(n: number): void {
    if (this.pos + n > this.buf.length)
      throw new XdrError(`XDR message ends early (${n} bytes wanted at ${this.pos} of ${this.buf.length})`);
  }

  int(): number {
    this.need(4);
    const v = this.buf.readInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  uint(): number {
    this.need(4);
    const v = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  uhyper(): bigint {
    this.need(8);
    const v = this.buf.readBigUInt64BE(this.pos);
    this.pos += 8;
    return v;
  }

  bool(): boolean {
    return this.int() !== 0;
  }

  fixedOpaque(n: number): Buffer {
    const padded = (n + 3) & ~3;
    this.need(padded);
    const v = this.buf.subarray(this.pos, this.pos + n);
    this.pos += padded;
    return v;
  }

  opaque(max = 64 * 2 ** 20): Buffer {
    const n = this.uint();
    if (n > max) throw new XdrError(`XDR opaque of ${n} bytes is over its limit of ${max}`);
    return this.fixedOpaque(n);
  }

  string(): string {
    return this.opaque().toString('utf8');
  }

  optString(): string | null {
    return this.bool() ? this.string() : null;
  }

  /** A variable-length array: its count, then each element. */
  array<T>(read: (r: XdrReader) => T, max = 1 << 20): T[] {
    const n = this.uint();
    if (n > max) throw new XdrError(`XDR array of ${n} elements is over its limit of ${max}`);
    const out: T[] = [];
    for (let i = 0; i < n; i++) out.push(read(this));
    return out;
  }

  get remaining(): number {
    return this.buf.length - this.pos;
  }
}
