import { setTimeout as sleep } from 'node:timers/promises';
import { DriverError } from '../driver.js';
import { ConnectionClosedError, LibvirtError, RpcConnection } from './rpc/connection.js';
import { ErrorCode } from './rpc/protocol.js';
import { LibvirtRemote, type LifecycleMessage } from './rpc/remote.js';
import type { LibvirtTarget } from './rpc/transport.js';

export interface SessionOptions {
  /** Every domain lifecycle event libvirtd sends. */
  onLifecycle(m: LifecycleMessage): void;
  /** After a reconnect: events may have been missed while the connection was down. */
  onReconnect(): void;
  /** How long each call may wait for libvirtd. */
  call_timeout_ms?: number;
}

/**
 * The one connection to libvirtd a driver keeps, re-opened whenever it breaks: libvirtd
 * restarting (an upgrade, a crash) ends the socket, and the next call, or the watcher that
 * retries every second, connects again and subscribes to lifecycle events anew. While
 * libvirtd is down, calls fail at once with `unavailable`, so the worker retries them later
 * and the host is reported offline with the reason.
 */
export class LibvirtSession {
  private current: Promise<LibvirtRemote> | null = null;
  private live: LibvirtRemote | null = null;
  private down: string | null = null;
  private closed = false;
  private everConnected = false;
  private readonly retrying = new AbortController();

  constructor(
    readonly target: LibvirtTarget,
    private readonly opts: SessionOptions,
  ) {
    void this.keepConnected();
  }

  /** Why libvirtd cannot be reached right now, or null while connected. */
  get problem(): string | null {
    return this.live ? null : (this.down ?? 'not connected to libvirtd yet');
  }

  /** Runs `fn` against libvirtd, mapping what goes wrong to a `DriverError` of the right kind. */
  async use<T>(what: string, fn: (r: LibvirtRemote) => Promise<T>): Promise<T> {
    let remote: LibvirtRemote;
    try {
      remote = await this.connect();
    } catch (err) {
      throw new DriverError('unavailable', `libvirtd at ${this.target.uri} is unreachable: ${(err as Error).message}`);
    }
    try {
      return await fn(remote);
    } catch (err) {
      throw toDriverError(err, what);
    }
  }

  connect(): Promise<LibvirtRemote> {
    if (this.closed) return Promise.reject(new Error('the libvirt driver is closed'));
    this.current ??= this.open().catch((err: Error) => {
      this.current = null;
      this.down = err.message;
      throw err;
    });
    return this.current;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.retrying.abort();
    const remote = await this.current?.catch(() => null);
    await remote?.close();
  }

  private async open(): Promise<LibvirtRemote> {
    const timeout_ms = this.opts.call_timeout_ms ?? 60_000;
    const stream = await this.target.open(AbortSignal.timeout(10_000));
    const rpc = new RpcConnection(stream, timeout_ms);
    const remote = new LibvirtRemote(rpc);
    try {
      await remote.open(this.target.name, { timeout_ms: 10_000 });
      await remote.registerLifecycle((m) => this.opts.onLifecycle(m), { timeout_ms: 10_000 });
    } catch (err) {
      rpc.close();
      throw err;
    }
    rpc.once('close', (reason) => {
      this.live = null;
      this.current = null;
      this.down = reason;
    });
    if (rpc.closed) throw new ConnectionClosedError('libvirtd closed the connection');
    this.live = remote;
    this.down = null;
    if (this.everConnected) this.opts.onReconnect();
    this.everConnected = true;
    return remote;
  }

  /** Reconnects in the background, so events flow again soon after libvirtd comes back. */
  private async keepConnected(): Promise<void> {
    while (!this.closed) {
      if (!this.live) await this.connect().catch(() => {});
      await sleep(1_000, undefined, { signal: this.retrying.signal }).catch(() => {});
    }
  }
}

export function toDriverError(err: unknown, what: string): DriverError {
  if (err instanceof DriverError) return err;
  const e = err as Error;
  if (err instanceof ConnectionClosedError) return new DriverError('unavailable', `${what}: ${e.message}`);
  if (err instanceof LibvirtError) {
    if (err.code === ErrorCode.NO_DOMAIN) return new DriverError('not_found', `${what}: ${e.message}`);
    return new DriverError('failed', `${what}: ${e.message}`);
  }
  if (e?.name === 'AbortError' || e?.name === 'TimeoutError') return new DriverError('aborted', `${what}: ${e.message}`);
  return new DriverError('failed', `${what}: ${e?.message ?? String(err)}`);
}
