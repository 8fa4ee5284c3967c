import type { Socket } from 'node:net';

/** What the bridge uses of a `ws` WebSocket (the package ships no types of its own). */
export interface RawWebSocket {
  readonly readyState: number;
  readonly bufferedAmount: number;
  send(data: Buffer, opts: { binary: boolean }, cb: (err?: Error) => void): void;
  ping(): void;
  on(event: 'pong', listener: () => void): void;
  pause(): void;
  resume(): void;
  close(code?: number, reason?: string): void;
  terminate(): void;
}

/** Bytes queued for the browser past which the VM's screen is read no further until they go out. */
const HIGH_WATER = 4 * 2 ** 20;
const LOW_WATER = 2 ** 20;
/**
 * A ping this often; a browser that has not answered the last one by the next is gone (a laptop
 * asleep, a NAT that forgot): its session ends and its slot is free. The pings also keep
 * proxies from closing a console whose screen does not change.
 */
export const PING_INTERVAL_MS = 30_000;
/** WebSocket readyState CLOSING: a socket at or past it needs no close. */
const CLOSING = 2;

/**
 * One console session: the browser's WebSocket and a connection to the VM's VNC server, each
 * one's bytes written to the other (RFB is binary: a text frame ends the session). Whichever
 * side closes or fails closes the other, once, and `onEnd` runs once. A slow reader slows the
 * writer down (backpressure both ways) instead of growing this process's memory.
 */
export class ScreenBridge {
  private ws: RawWebSocket | null = null;
  private ended = false;
  private pinger: NodeJS.Timeout | null = null;
  readonly bytes = { to_client: 0, from_client: 0 };

  constructor(
    private readonly upstream: Socket,
    private readonly onEnd: (why: string) => void,
  ) {
    upstream.on('error', (err) => this.end(1011, "lost the VM's screen", `VNC connection failed: ${err.message}`));
    upstream.on('close', () => this.end(1000, "the VM's screen closed", 'the VNC server closed the connection'));
  }

  /** The WebSocket is open: the VM's bytes start flowing to it. */
  open(ws: RawWebSocket, ping_ms = PING_INTERVAL_MS): void {
    this.ws = ws;
    if (this.ended) {
      ws.close(1011, "lost the VM's screen");
      return;
    }
    let answered = true;
    ws.on('pong', () => {
      answered = true;
    });
    this.pinger = setInterval(() => {
      if (!answered) {
        ws.terminate();
        this.end(1001, 'no answer to pings', 'the browser stopped answering pings');
        return;
      }
      answered = false;
      ws.ping();
    }, ping_ms);
    this.pinger.unref();
    this.upstream.on('data', (chunk: Buffer) => {
      this.bytes.to_client += chunk.length;
      ws.send(chunk, { binary: true }, () => {
        if (this.upstream.isPaused() && ws.bufferedAmount < LOW_WATER) this.upstream.resume();
      });
      if (ws.bufferedAmount > HIGH_WATER) this.upstream.pause();
    });
  }

  /** A message from the browser: its bytes go to the VNC server. */
  fromClient(data: unknown): void {
    if (this.ended) return;
    if (!(data instanceof ArrayBuffer)) {
      this.end(1003, 'binary frames only', 'the client sent a text frame');
      return;
    }
    this.bytes.from_client += data.byteLength;
    if (!this.upstream.write(Buffer.from(data)) && this.ws) {
      const ws = this.ws;
      ws.pause();
      this.upstream.once('drain', () => ws.resume());
    }
  }

  /** Ends the session: both sides closed, once. */
  end(code = 1000, reason = '', why = 'the client closed the WebSocket'): void {
    if (this.ended) return;
    this.ended = true;
    if (this.pinger) clearInterval(this.pinger);
    this.upstream.destroy();
    if (this.ws && this.ws.readyState < CLOSING) this.ws.close(code, reason);
    this.onEnd(why);
  }

  /** At shutdown: closed at once, then cut off if the client does not answer the close soon. */
  shutdown(): void {
    const ws = this.ws;
    this.end(1001, 'the server is shutting down', 'the server is shutting down');
    if (ws) setTimeout(() => ws.terminate(), 1000).unref();
  }
}
