import { EventEmitter } from 'node:events';
import { connect, type Socket } from 'node:net';

export interface QmpEvent {
  event: string;
  data?: Record<string, unknown>;
  timestamp?: { seconds: number; microseconds: number };
}

/** An error QEMU answered a command with. */
export class QmpError extends Error {
  override readonly name = 'QmpError';
  constructor(
    readonly command: string,
    readonly qmpClass: string,
    desc: string,
  ) {
    super(`QMP ${command}: ${desc}`);
  }
}

interface Pending {
  command: string;
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

/**
 * A QEMU Machine Protocol client: newline-delimited JSON over the VM's unix socket.
 * Emits `event` (QmpEvent) for asynchronous events and `close` once when the socket ends,
 * which for a QMP socket means QEMU has exited (or closed its monitor).
 */
export class QmpClient extends EventEmitter<{ event: [QmpEvent]; close: [] }> {
  private buffer = '';
  private nextId = 1;
  private readonly pending = new Map<string, Pending>();
  private closed = false;

  private constructor(private readonly socket: Socket) {
    super();
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => this.onData(chunk));
    socket.on('error', () => {});
    socket.on('close', () => this.onClose());
  }

  /** Connects, reads the greeting and negotiates capabilities. */
  static async connect(path: string, timeout_ms = 5_000): Promise<QmpClient> {
    const socket = await new Promise<Socket>((resolve, reject) => {
      const s = connect({ path });
      const timer = setTimeout(() => {
        s.destroy();
        reject(new Error(`QMP: no connection to ${path} within ${timeout_ms} ms`));
      }, timeout_ms);
      s.once('connect', () => {
        clearTimeout(timer);
        resolve(s);
      });
      s.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
    const client = new QmpClient(socket);
    try {
      await client.greeting(timeout_ms);
      await client.execute('qmp_capabilities', undefined, timeout_ms);
    } catch (err) {
      client.close();
      throw err;
    }
    return client;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  execute<T = unknown>(command: string, args?: Record<string, unknown>, timeout_ms = 10_000): Promise<T> {
    if (this.closed) return Promise.reject(new Error(`QMP ${command}: the monitor is closed`));
    const id = String(this.nextId++);
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`QMP ${command}: no answer within ${timeout_ms} ms`));
      }, timeout_ms);
      this.pending.set(id, { command, resolve: resolve as (v: unknown) => void, reject, timer });
      this.socket.write(`${JSON.stringify({ execute: command, ...(args ? { arguments: args } : {}), id })}\n`);
    });
  }

  /** Resolves when the socket has closed (at once if it already has). */
  closedPromise(): Promise<void> {
    return this.closed ? Promise.resolve() : new Promise((resolve) => this.once('close', resolve));
  }

  close(): void {
    this.socket.destroy();
  }

  private greetingWaiter: ((ok: boolean) => void) | null = null;

  private greeting(timeout_ms: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`QMP: no greeting within ${timeout_ms} ms`)), timeout_ms);
      this.greetingWaiter = (ok) => {
        clearTimeout(timer);
        if (ok) resolve();
        else reject(new Error('QMP: the monitor closed before its greeting'));
      };
    });
  }

  private onData(chunk: string): void {
    this.buffer += chunk;
    for (let nl = this.buffer.indexOf('\n'); nl >= 0; nl = this.buffer.indexOf('\n')) {
      const line = this.buffer.slice(0, nl).trim();
      this.buffer = this.buffer.slice(nl + 1);
      if (line) this.onMessage(line);
    }
  }

  private onMessage(line: string): void {
    let msg: Record<string, unknown>;
    try {
      msg = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return;
    }
    if ('QMP' in msg) {
      this.greetingWaiter?.(true);
      this.greetingWaiter = null;
    } else if (typeof msg.event === 'string') {
      this.emit('event', msg as unknown as QmpEvent);
    } else if (msg.id !== undefined) {
      const p = this.pending.get(String(msg.id));
      if (!p) return;
      this.pending.delete(String(msg.id));
      clearTimeout(p.timer);
      if ('error' in msg) {
        const e = msg.error as { class?: string; desc?: string };
        p.reject(new QmpError(p.command, e.class ?? 'GenericError', e.desc ?? 'failed'));
      } else {
        p.resolve(msg.return);
      }
    }
  }

  private onClose(): void {
    if (this.closed) return;
    this.closed = true;
    this.greetingWaiter?.(false);
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      // A `quit` is answered by the socket closing as often as by a reply.
      if (p.command === 'quit') p.resolve({});
      else p.reject(new Error(`QMP ${p.command}: the monitor closed (QEMU exited?)`));
    }
    this.pending.clear();
    this.emit('close');
  }
}
