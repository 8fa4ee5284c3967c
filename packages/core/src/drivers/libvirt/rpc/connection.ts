import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import { HEADER_BYTES, MAX_PACKET_BYTES, MessageStatus, MessageType, REMOTE_PROGRAM, REMOTE_PROTOCOL_VERSION } from './protocol.js';
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
  private buffered: Buffer[] = [];
  private bufferedBytes = 0;
  private closedReason: string | null = null;

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
    if (this.closedReason !== null) return Promise.reject(new ConnectionClosedError(this.closedReason));
    if (opts.signal?.aborted) return Promise.reject(abortError(opts.signal));
    const serial = ++this.serial;
    const body = new XdrWriter();
    args?.(body);
    const payload = body.bytes();
    const packet = new XdrWriter()
      .uint(HEADER_BYTES + payload.length)
      .uint(REMOTE_PROGRAM)
      .uint(REMOTE_PROTOCOL_VERSION)
      .int(proc)
      .int(MessageType.CALL)
      .uint(serial)
      .int(MessageStatus.OK)
      .bytes();
    return new Promise<XdrReader>((resolve, reject) => {
      const timeout_ms = opts.timeout_ms ?? this.defaultTimeoutMs;
      const timer = setTimeout(
        () => done(new ConnectionClosedError(`libvirtd did not answer procedure ${proc} within ${timeout_ms} ms`)),
        timeout_ms,
      );
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
    this.emit('close', reason);
  }

  private receive(chunk: Buffer): void {
    this.buffered.push(chunk);
    this.bufferedBytes += chunk.length;
    while (this.bufferedBytes >= 4) {
      const head = this.buffered.length === 1 ? this.buffered[0]! : Buffer.concat(this.buffered);
      this.buffered = [head];
      const length = head.readUInt32BE(0);
      if (length < HEADER_BYTES || length > MAX_PACKET_BYTES) {
        this.shut(`libvirtd sent a packet of impossible length ${length}`);
        this.stream.destroy();
        return;
      }
      if (head.length < length) return;
      const packet = head.subarray(0, length);
      const rest = head.subarray(length);
      this.buffered = rest.length ? [rest] : [];
      this.bufferedBytes = rest.length;
      this.dispatch(packet);
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
