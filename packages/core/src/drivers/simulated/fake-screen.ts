import { createServer, type Server, type Socket } from 'node:net';

/** The simulated screen's size and name, as its ServerInit announces them. */
const WIDTH = 640;
const HEIGHT = 480;
const NAME = 'hangar simulated screen';

/** 32 bits per pixel, depth 24, little-endian true colour (RFB's PIXEL_FORMAT, 16 bytes). */
function pixelFormat(): Buffer {
  const f = Buffer.alloc(16);
  f.writeUInt8(32, 0); // bits per pixel
  f.writeUInt8(24, 1); // depth
  f.writeUInt8(0, 2); // big-endian: no
  f.writeUInt8(1, 3); // true colour
  f.writeUInt16BE(255, 4);
  f.writeUInt16BE(255, 6);
  f.writeUInt16BE(255, 8);
  f.writeUInt8(16, 10); // red shift
  f.writeUInt8(8, 11);
  f.writeUInt8(0, 12);
  return f;
}

function serverInit(): Buffer {
  const name = Buffer.from(NAME);
  const head = Buffer.alloc(4);
  head.writeUInt16BE(WIDTH, 0);
  head.writeUInt16BE(HEIGHT, 2);
  const length = Buffer.alloc(4);
  length.writeUInt32BE(name.length, 0);
  return Buffer.concat([head, pixelFormat(), length, name]);
}

/**
 * A screen for simulated domains: the smallest RFB 3.8 server that a VNC client (noVNC)
 * completes its handshake with, security type None, then a blank 640×480 screen whose client
 * messages are read and dropped. Enough for the web console and its tests to run end to end
 * without a hypervisor. One server on loopback serves every simulated domain.
 */
export class FakeScreen {
  private server: Promise<Server> | null = null;
  private readonly clients = new Set<Socket>();

  /** VNC connections open now (tests check that a closed console leaves none). */
  get connections(): number {
    return this.clients.size;
  }

  /** The port it listens on, 127.0.0.1; started on first use. */
  async port(): Promise<number> {
    this.server ??= new Promise<Server>((resolve, reject) => {
      const s = createServer((socket) => this.greet(socket));
      s.once('error', reject);
      s.listen(0, '127.0.0.1', () => resolve(s));
    });
    const address = (await this.server).address();
    if (address === null || typeof address === 'string') throw new Error('the simulated screen is not listening on a TCP port');
    return address.port;
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = null;
    for (const c of this.clients) c.destroy();
    const s = await server?.catch(() => null);
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  private greet(socket: Socket): void {
    this.clients.add(socket);
    socket.on('close', () => this.clients.delete(socket));
    // A client that resets is its own business.
    socket.on('error', () => socket.destroy());
    // The handshake's steps, each waiting for so many bytes from the client.
    const steps: [number, () => Buffer][] = [
      [12, () => Buffer.from([1, 1])], // its version → one security type: None
      [1, () => Buffer.alloc(4)], // its choice → SecurityResult OK
      [1, () => serverInit()], // ClientInit → ServerInit
    ];
    let pending = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      if (steps.length === 0) return; // client messages after the handshake: dropped
      pending = Buffer.concat([pending, chunk]);
      while (steps.length > 0 && pending.length >= steps[0]![0]) {
        const [size, answer] = steps.shift()!;
        pending = pending.subarray(size);
        socket.write(answer());
      }
    });
    socket.write('RFB 003.008\n');
  }
}
