import { EventEmitter, once } from 'node:events';
import type { Duplex, Writable } from 'node:stream';
import {
  HEADER_BYTES,
  MAX_PACKET_BYTES,
  MessageStatus,
  MessageType,
  REMOTE_PROGRAM,
  REMOTE_PROTOCOL_VERSION,
  STREAM_CHUNK_BYTES,
} from './protocol.js';
import { XdrReader, XdrWriter } from './xdr.js';

/** An error libvirtd answered a call with (`remote_error`): its virErrorNumber and message. */
export class LibvirtError extends Error {
  override readonly name = 'LibvirtError';
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

/** The connection to libvirtd ended (it exited, restarted, or the transport broke), or libvirtd stopped answering. */
export class ConnectionClosedError extends Error {
  override readonly name = 'ConnectionClosedError';
}

interface Pending {
  proc: number;
  resolve(r: XdrReader): void;
  reject(e: Error): void;
}

/** What the connection does with the stream packets of one call (a volume upload or download). */
interface StreamHandler {
  data(chunk: Buffer): void;
  /** The daemon's end of the stream (status OK, or an empty CONTINUE as some daemons send). */
  end(): void;
  error(err: Error): void;
}

export interface CallOptions {
  signal?: AbortSignal;
  /** How long libvirtd gets to answer; a hung daemon must not hang an operation forever. */
  timeout_ms?: number;
}

/**
 * One RPC connection to libvirtd over any byte stream (a unix socket, TCP, ssh's stdio):
 * frames packets, matches replies to calls by serial, and hands asynchronous messages (domain
 * events) to `on('event')`. It emits `close` once, with the reason, when the stream ends;
 * every call still waiting then fails with `ConnectionClosedError`.
 */
export class RpcConnection extends EventEmitter<{
  event: [proc: number, body: XdrReader];
  close: [reason: string];
}> {
  private serial = 0;
  private readonly pending = new Map<number, Pending>();
  private readonly streams = new Map<number, StreamHandler>();
  private buffered: Buffer[] = [];
  private bufferedBytes = 0;
  private closedReason: string | null = null;
  /** When the daemon last sent anything. */
  /** Reads from the daemon so far: a call that times out with none since it was sent met a hung daemon. */
  private heard = 0;

  constructor(
    private readonly stream: Duplex,
    private readonly defaultTimeoutMs = 60_000,
  ) {
    super();
    stream.on('data', (chunk: Buffer) => this.receive(chunk));
    // Every stream gets an error handler: a broken transport closes this connection, nothing more.
    stream.on('error', (err) => this.shut(`the connection to libvirtd failed: ${err.message}`));
    stream.on('close', () => this.shut('libvirtd closed the connection'));
    stream.on('end', () => this.shut('libvirtd closed the connection'));
  }

  get closed(): boolean {
    return this.closedReason !== null;
  }

  call(proc: number, args?: (w: XdrWriter) => void, opts: CallOptions = {}): Promise<XdrReader> {
    return this.callAs(++this.serial, proc, args, opts);
  }

  /**
   * A call whose reply opens a stream the client writes (a volume upload): the data goes out in
   * stream packets after the reply, then the end; resolves when the daemon confirms it has all.
   * Every wait also ends on the caller's signal, on the daemon's error, and after `idle_ms`
   * without progress: a stuck stream never holds its caller forever.
   */
  async upload(
    proc: number,
    args: (w: XdrWriter) => void,
    source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
    opts: CallOptions & { idle_ms?: number } = {},
  ): Promise<void> {
    const serial = ++this.serial;
    const done = this.openStream(serial, () => {});
    const watch = this.watchdog(serial, opts);
    try {
      await this.callAs(serial, proc, args, opts);
      for await (const chunk of source) {
        for (let at = 0; at < chunk.length; at += STREAM_CHUNK_BYTES) {
          watch.check();
          const part = Buffer.from(chunk.buffer, chunk.byteOffset + at, Math.min(STREAM_CHUNK_BYTES, chunk.length - at));
          // The socket's backpressure paces a fast source to the daemon.
          const header = this.header(proc, MessageType.STREAM, serial, MessageStatus.CONTINUE, part.length);
          if (!this.stream.write(Buffer.concat([header, part]))) await watch.race(once(this.stream, 'drain'));
          watch.progress();
        }
      }
      watch.check();
      this.stream.write(this.header(proc, MessageType.STREAM, serial, MessageStatus.OK, 0));
      await watch.race(done);
    } catch (err) {
      // Tell the daemon to abandon the stream; the connection stays usable.
      if (this.closedReason === null) this.stream.write(this.header(proc, MessageType.STREAM, serial, MessageStatus.ERROR, 0));
      throw err;
    } finally {
      watch.stop();
      this.streams.delete(serial);
    }
  }

  /**
   * A call whose reply opens a stream the daemon writes (a volume download): its data goes to
   * `sink` (the socket pauses while the sink is full); resolves at the daemon's end of it. More
   * than `max_bytes`, a sink that fails, the caller's signal or `idle_ms` without data end it.
   */
  async download(
    proc: number,
    args: (w: XdrWriter) => void,
    sink: Writable,
    opts: CallOptions & { max_bytes: number; idle_ms?: number },
  ): Promise<void> {
    const serial = ++this.serial;
    // The socket pauses while the sink is full, and always resumes: a sink that ends full
    // emits no 'drain', and a paused socket would hear nothing more from the daemon.
    let paused = false;
    const resume = () => {
      if (!paused) return;
      paused = false;
      this.stream.resume();
    };
    let received = 0;
    const done = this.openStream(serial, (chunk) => {
      watch.progress();
      received += chunk.length;
      if (received > opts.max_bytes) {
        this.streams.get(serial)?.error(new Error(`libvirtd sent more than the ${opts.max_bytes} bytes the volume can hold`));
        return;
      }
      if (!sink.write(chunk) && !paused) {
        paused = true;
        this.stream.pause();
        sink.once('drain', resume);
      }
    });
    const watch = this.watchdog(serial, opts);
    // Every stream gets an error handler: a sink that fails (a full disk) fails the download.
    const onSinkError = (err: Error) => this.streams.get(serial)?.error(err);
    sink.on('error', onSinkError);
    try {
      await this.callAs(serial, proc, args, opts);
      await watch.race(done);
    } catch (err) {
      if (this.closedReason === null) this.stream.write(this.header(proc, MessageType.STREAM, serial, MessageStatus.ERROR, 0));
      throw err;
    } finally {
      watch.stop();
      sink.off('error', onSinkError);
      sink.off('drain', resume);
      resume();
      this.streams.delete(serial);
    }
  }

  /** For a stream: its failure (the daemon's error, the caller's signal, no progress for `idle_ms`) ends every wait on it. */
  private watchdog(serial: number, opts: CallOptions & { idle_ms?: number }) {
    const idle_ms = opts.idle_ms ?? this.defaultTimeoutMs;
    let failure: Error | null = null;
    let last = Date.now();
    let fail: (err: Error) => void = () => {};
    const failed = new Promise<never>((_, reject) => {
      fail = (err) => {
        failure ??= err;
        reject(failure);
      };
    });
    failed.catch(() => {});
    const stream = this.streams.get(serial);
    if (stream) {
      const error = stream.error;
      stream.error = (err) => {
        fail(err);
        error(err);
      };
    }
    const onAbort = () => fail(abortError(opts.signal!));
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    const timer = setInterval(
      () => {
        if (Date.now() - last > idle_ms) fail(new ConnectionClosedError(`the stream made no progress for ${idle_ms} ms`));
      },
      Math.min(1_000, idle_ms),
    );
    timer.unref();
    return {
      progress: () => {
        last = Date.now();
      },
      check: () => {
        if (opts.signal?.aborted) fail(abortError(opts.signal));
        if (this.closedReason !== null) fail(new ConnectionClosedError(this.closedReason));
        if (failure) throw failure;
      },
      race: <T>(p: Promise<T>): Promise<T> => Promise.race([p, failed]),
      stop: () => {
        clearInterval(timer);
        opts.signal?.removeEventListener('abort', onAbort);
      },
    };
  }

  private openStream(serial: number, data: (chunk: Buffer) => void): Promise<void> {
    const done = new Promise<void>((resolve, reject) => {
      this.streams.set(serial, { data, end: resolve, error: reject });
    });
    // Awaited by the caller once the call is answered; an end that comes first must not go unhandled.
    done.catch(() => {});
    return done;
  }

  private header(proc: number, type: number, serial: number, status: number, payloadBytes: number): Buffer {
    return new XdrWriter()
      .uint(HEADER_BYTES + payloadBytes)
      .uint(REMOTE_PROGRAM)
      .uint(REMOTE_PROTOCOL_VERSION)
      .int(proc)
      .int(type)
      .uint(serial)
      .int(status)
      .bytes();
  }

  private callAs(serial: number, proc: number, args: ((w: XdrWriter) => void) | undefined, opts: CallOptions): Promise<XdrReader> {
    if (this.closedReason !== null) return Promise.reject(new ConnectionClosedError(this.closedReason));
    if (opts.signal?.aborted) return Promise.reject(abortError(opts.signal));
    const body = new XdrWriter();
    args?.(body);
    const payload = body.bytes();
    const packet = this.header(proc, MessageType.CALL, serial, MessageStatus.OK, payload.length);
    return new Promise<XdrReader>((resolve, reject) => {
      const timeout_ms = opts.timeout_ms ?? this.defaultTimeoutMs;
      const heardAtSend = this.heard;
      // A daemon that does not answer is hung: the connection is given up (every call on it
      // fails as unavailable) so that the next call connects afresh.
      const timer = setTimeout(() => {
        const reason = `libvirtd did not answer procedure ${proc} within ${timeout_ms} ms`;
        done(new ConnectionClosedError(reason));
        // Silent all that while, and no stream moving: hung. A busy daemon answering others is not.
        // Counted, not timed: a timer may fire before the wall clock says its time has passed
        // (a busy event loop, a clock stepped back), and the hung daemon was then kept.
        if (this.heard === heardAtSend && this.streams.size === 0) {
          this.shut(reason);
          this.stream.destroy();
        }
      }, timeout_ms);
      const onAbort = () => done(abortError(opts.signal!));
      const done = (err: Error | null, r?: XdrReader) => {
        clearTimeout(timer);
        opts.signal?.removeEventListener('abort', onAbort);
        // A late reply to an abandoned call finds no entry and is dropped.
        this.pending.delete(serial);
        if (err) reject(err);
        else resolve(r!);
      };
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      this.pending.set(serial, { proc, resolve: (r) => done(null, r), reject: (e) => done(e) });
      this.stream.write(Buffer.concat([packet, payload]));
    });
  }

  /** Ends the connection; calls still waiting fail. */
  close(): void {
    this.shut('the connection was closed');
    this.stream.destroy();
  }

  private shut(reason: string): void {
    if (this.closedReason !== null) return;
    this.closedReason = reason;
    for (const p of this.pending.values()) p.reject(new ConnectionClosedError(reason));
    this.pending.clear();
    for (const s of this.streams.values()) s.error(new ConnectionClosedError(reason));
    this.streams.clear();
    this.emit('close', reason);
  }

  private receive(chunk: Buffer): void {
    this.heard++;
    this.buffered.push(chunk);
    this.bufferedBytes += chunk.length;
    while (this.bufferedBytes >= 4) {
      // Joined only to read the length, and again once the whole packet is here: a packet
      // arriving in many small pieces costs its size, not its size times the pieces.
      if (this.buffered[0]!.length < 4) this.buffered = [Buffer.concat(this.buffered)];
      const length = this.buffered[0]!.readUInt32BE(0);
      if (length < HEADER_BYTES || length > MAX_PACKET_BYTES) {
        this.shut(`libvirtd sent a packet of impossible length ${length}`);
        this.stream.destroy();
        return;
      }
      if (this.bufferedBytes < length) return;
      const all = this.buffered.length === 1 ? this.buffered[0]! : Buffer.concat(this.buffered);
      const rest = all.subarray(length);
      this.buffered = rest.length ? [rest] : [];
      this.bufferedBytes = rest.length;
      this.dispatch(all.subarray(0, length));
    }
  }

  private dispatch(packet: Buffer): void {
    const r = new XdrReader(packet.subarray(4));
    const prog = r.uint();
    r.uint(); // version
    const proc = r.int();
    const type = r.int();
    const serial = r.uint();
    const status = r.int();
    const body = new XdrReader(packet.subarray(HEADER_BYTES));
    if (prog !== REMOTE_PROGRAM) return; // keepalive and other programs: nothing this client asked for
    if (type === MessageType.MESSAGE) {
      this.emit('event', proc, body);
      return;
    }
    if (type === MessageType.STREAM) {
      const s = this.streams.get(serial);
      if (!s) return;
      if (status === MessageStatus.ERROR) s.error(readError(body, proc));
      else if (status === MessageStatus.OK || body.remaining === 0) s.end();
      else s.data(packet.subarray(HEADER_BYTES));
      return;
    }
    if (type !== MessageType.REPLY) return;
    const p = this.pending.get(serial);
    if (!p) return;
    if (status === MessageStatus.OK) p.resolve(body);
    else p.reject(readError(body, p.proc));
  }
}

/** `remote_error`: code, domain, then the message (a `remote_string`); the rest is not needed. */
function readError(r: XdrReader, proc: number): Error {
  try {
    const code = r.int();
    r.int(); // the libvirt module that raised it
    const message = r.optString() ?? `libvirt error ${code}`;
    return new LibvirtError(code, message);
  } catch {
    return new LibvirtError(0, `libvirtd refused procedure ${proc} with an unreadable error`);
  }
}

function abortError(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new Error('the call was cancelled');
}
