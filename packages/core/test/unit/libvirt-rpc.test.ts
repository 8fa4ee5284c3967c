import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ConnectionClosedError, LibvirtError, RpcConnection } from '../../src/drivers/libvirt/rpc/connection.js';
import { MessageStatus, MessageType, Proc, REMOTE_PROGRAM } from '../../src/drivers/libvirt/rpc/protocol.js';
import { LibvirtRemote, uuidBytes, uuidString } from '../../src/drivers/libvirt/rpc/remote.js';
import { parseLibvirtUri } from '../../src/drivers/libvirt/rpc/transport.js';
import { XdrReader, XdrWriter } from '../../src/drivers/libvirt/rpc/xdr.js';

// libvirt's RPC framing against a scripted daemon on a real unix socket: what the driver
// reads and writes byte for byte, and how it behaves when the daemon misbehaves or goes away.

interface Call {
  proc: number;
  serial: number;
  body: XdrReader;
}

function packet(proc: number, type: number, serial: number, status: number, body: Buffer = Buffer.alloc(0)): Buffer {
  const head = new XdrWriter()
    .uint(28 + body.length)
    .uint(REMOTE_PROGRAM)
    .uint(1)
    .int(proc)
    .int(type)
    .uint(serial)
    .int(status)
    .bytes();
  return Buffer.concat([head, body]);
}

/** A daemon that reads calls and lets the test answer each. */
async function fakeDaemon(dir: string, onCall: (c: Call, s: Socket) => void): Promise<{ server: Server; path: string }> {
  const path = join(dir, 'sock');
  const server = createServer((s) => {
    let buf = Buffer.alloc(0);
    s.on('error', () => {});
    s.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 4 && buf.length >= buf.readUInt32BE(0)) {
        const len = buf.readUInt32BE(0);
        const r = new XdrReader(buf.subarray(4, len));
        r.uint();
        r.uint();
        const proc = r.int();
        r.int();
        const serial = r.uint();
        r.int();
        onCall({ proc, serial, body: new XdrReader(buf.subarray(28, len)) }, s);
        buf = buf.subarray(len);
      }
    });
  });
  // A listen that fails (the path still taken) fails the test at once rather than hanging it.
  await new Promise<void>((res, rej) => {
    server.once('error', rej);
    server.listen(path, res);
  });
  return { server, path };
}

async function connected(path: string, timeout_ms = 2_000): Promise<RpcConnection> {
  const target = parseLibvirtUri(`qemu+unix:///system?socket=${encodeURIComponent(path)}`);
  return new RpcConnection(await target.open(), timeout_ms);
}

describe('XDR', () => {
  it('pads to words and reads back what it wrote', () => {
    const w = new XdrWriter()
      .int(-2)
      .uint(0xffffffff)
      .uhyper(2n ** 40n)
      .string('abcde')
      .optString(null)
      .optString('x')
      .bool(true);
    const bytes = w.bytes();
    expect(bytes.length).toBe(4 + 4 + 8 + (4 + 8) + 4 + (4 + 4 + 4) + 4);
    const r = new XdrReader(bytes);
    expect([r.int(), r.uint(), r.uhyper(), r.string(), r.optString(), r.optString(), r.bool()]).toEqual([
      -2,
      0xffffffff,
      2n ** 40n,
      'abcde',
      null,
      'x',
      true,
    ]);
    expect(r.remaining).toBe(0);
  });

  it('refuses a message that ends early or claims more than its limit', () => {
    expect(() => new XdrReader(Buffer.from([0, 0, 0, 9, 97])).string()).toThrow(/ends early/);
    expect(() => new XdrReader(new XdrWriter().uint(5).bytes()).opaque(4)).toThrow(/over its limit/);
    expect(() => new XdrReader(new XdrWriter().uint(2 ** 30).bytes()).array((r) => r.int())).toThrow(/over its limit/);
  });

  it('writes UUIDs as 16 raw bytes and reads them back', () => {
    const id = '6c7e3b27-7159-4e0a-9e30-3d44284574cd';
    expect(uuidBytes(id)).toHaveLength(16);
    expect(uuidString(uuidBytes(id))).toBe(id);
  });
});

describe('RpcConnection against a scripted daemon', () => {
  let dir: string;
  let server: Server | null = null;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hangar-rpc-'));
  });
  afterEach(async () => {
    server?.close();
    server = null;
    await rm(dir, { recursive: true, force: true });
  });

  it('matches replies to calls by serial, whatever their order, across split packets', async () => {
    const calls: Call[] = [];
    const d = await fakeDaemon(dir, (c, s) => {
      calls.push(c);
      if (calls.length < 2) return;
      // Answer the second call first, the first one byte by byte.
      const [a, b] = calls as [Call, Call];
      s.write(packet(b.proc, MessageType.REPLY, b.serial, MessageStatus.OK, new XdrWriter().string('second').bytes()));
      const first = packet(a.proc, MessageType.REPLY, a.serial, MessageStatus.OK, new XdrWriter().string('first').bytes());
      for (const byte of first) s.write(Buffer.from([byte]));
    });
    server = d.server;
    const rpc = await connected(d.path);
    const [one, two] = await Promise.all([rpc.call(7, (w) => w.int(1)), rpc.call(8, (w) => w.int(2))]);
    expect([one.string(), two.string()]).toEqual(['first', 'second']);
    expect(calls.map((c) => [c.proc, c.body.int()])).toEqual([
      [7, 1],
      [8, 2],
    ]);
    rpc.close();
  });

  it("turns the daemon's remote_error into a LibvirtError with its code and message", async () => {
    const d = await fakeDaemon(dir, (c, s) => {
      const err = new XdrWriter().int(42).int(10).optString('Domain not found: no domain with matching uuid').int(2).bytes();
      s.write(packet(c.proc, MessageType.REPLY, c.serial, MessageStatus.ERROR, err));
    });
    server = d.server;
    const remote = new LibvirtRemote(await connected(d.path));
    // NO_DOMAIN on a lookup is an answer (there is none), not a failure.
    expect(await remote.lookupByUuid('6c7e3b27-7159-4e0a-9e30-3d44284574cd')).toBeNull();
    const err = await remote.rpc.call(Proc.DOMAIN_CREATE).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LibvirtError);
    expect(err).toMatchObject({ code: 42, message: 'Domain not found: no domain with matching uuid' });
    remote.rpc.close();
  });

  it('hands lifecycle events to the listener and ignores other programs (keepalive)', async () => {
    const d = await fakeDaemon(dir, (c, s) => {
      const keepalive = Buffer.concat([
        new XdrWriter().uint(28).uint(0x6b656570).uint(1).int(1).int(MessageType.MESSAGE).uint(0).int(0).bytes(),
      ]);
      s.write(keepalive);
      s.write(packet(c.proc, MessageType.REPLY, c.serial, MessageStatus.OK, new XdrWriter().int(1).bytes()));
      const uuid = uuidBytes('6c7e3b27-7159-4e0a-9e30-3d44284574cd');
      const ev = new XdrWriter()
        .int(1)
        .string('hangar-6c7e3b27-7159-4e0a-9e30-3d44284574cd')
        .fixedOpaque(uuid)
        .int(3)
        .int(5)
        .int(0)
        .bytes();
      s.write(packet(Proc.DOMAIN_EVENT_CALLBACK_LIFECYCLE, MessageType.MESSAGE, 0, MessageStatus.OK, ev));
    });
    server = d.server;
    const remote = new LibvirtRemote(await connected(d.path));
    const heard = new Promise((resolve) => void remote.registerLifecycle(resolve));
    expect(await heard).toMatchObject({ domain: { name: 'hangar-6c7e3b27-7159-4e0a-9e30-3d44284574cd', id: 3 }, event: 5, detail: 0 });
    remote.rpc.close();
  });

  it('streams a download into its sink and goes on answering calls, even when the sink ends full', async () => {
    const data = Buffer.alloc(64 * 1024, 7);
    const d = await fakeDaemon(dir, (c, s) => {
      if (c.proc === Proc.STORAGE_VOL_DOWNLOAD) {
        // The reply, the data and the end in one write, as a fast daemon sends them.
        s.write(
          Buffer.concat([
            packet(c.proc, MessageType.REPLY, c.serial, MessageStatus.OK),
            packet(c.proc, MessageType.STREAM, c.serial, MessageStatus.CONTINUE, data),
            packet(c.proc, MessageType.STREAM, c.serial, MessageStatus.CONTINUE),
          ]),
        );
      } else {
        s.write(packet(c.proc, MessageType.REPLY, c.serial, MessageStatus.OK, new XdrWriter().string('still here').bytes()));
      }
    });
    server = d.server;
    const rpc = await connected(d.path);
    // A sink nobody reads: full after the first chunk, and never drained.
    const sink = new PassThrough({ highWaterMark: 1024 });
    await rpc.download(Proc.STORAGE_VOL_DOWNLOAD, (w) => w.int(0), sink, { max_bytes: 2 ** 20 });
    expect((sink.read() as Buffer).equals(data)).toBe(true);
    expect((await rpc.call(1)).string()).toBe('still here');
    rpc.close();
  });

  it('uploads in chunks the daemon can take, and resolves when it confirms', async () => {
    const got: Buffer[] = [];
    const d = await fakeDaemon(dir, () => {});
    server = d.server;
    server.removeAllListeners('connection');
    server.on('connection', (s) => {
      let buf = Buffer.alloc(0);
      s.on('error', () => {});
      s.on('data', (chunk) => {
        buf = Buffer.concat([buf, chunk]);
        while (buf.length >= 4 && buf.length >= buf.readUInt32BE(0)) {
          const len = buf.readUInt32BE(0);
          const proc = buf.readInt32BE(12);
          const type = buf.readInt32BE(16);
          const serial = buf.readUInt32BE(20);
          const status = buf.readInt32BE(24);
          if (type === MessageType.CALL) s.write(packet(proc, MessageType.REPLY, serial, MessageStatus.OK));
          else if (status === MessageStatus.CONTINUE) got.push(Buffer.from(buf.subarray(28, len)));
          else s.write(packet(proc, MessageType.STREAM, serial, MessageStatus.OK));
          buf = buf.subarray(len);
        }
      });
    });
    const rpc = await connected(d.path);
    const big = Buffer.alloc(600 * 1024, 3);
    await rpc.upload(Proc.STORAGE_VOL_UPLOAD, (w) => w.int(0), [big.subarray(0, 100), big.subarray(100)]);
    expect(Buffer.concat(got).equals(big)).toBe(true);
    expect(Math.max(...got.map((g) => g.length))).toBeLessThanOrEqual(256 * 1024);
    rpc.close();
  });

  it('ends a stream that stalls, that its caller cancels, or whose sink fails, and stays usable', async () => {
    // A daemon that answers calls and takes stream data, and never confirms an upload's end.
    const d = await fakeDaemon(dir, (c, s) => {
      if (c.proc === Proc.STORAGE_VOL_DOWNLOAD) {
        s.write(packet(c.proc, MessageType.REPLY, c.serial, MessageStatus.OK));
        s.write(packet(c.proc, MessageType.STREAM, c.serial, MessageStatus.CONTINUE, Buffer.alloc(4096, 1)));
        return;
      }
      s.write(packet(c.proc, MessageType.REPLY, c.serial, MessageStatus.OK, new XdrWriter().string('ok').bytes()));
    });
    server = d.server;
    const rpc = await connected(d.path);
    await expect(rpc.upload(Proc.STORAGE_VOL_UPLOAD, (w) => w.int(0), [Buffer.alloc(10)], { idle_ms: 200 })).rejects.toThrow(
      /no progress for 200 ms/,
    );
    const cancel = new AbortController();
    setTimeout(() => cancel.abort(new Error('cancelled by the caller')), 100);
    await expect(rpc.upload(Proc.STORAGE_VOL_UPLOAD, (w) => w.int(0), [Buffer.alloc(10)], { signal: cancel.signal })).rejects.toThrow(
      /cancelled by the caller/,
    );
    // A sink that fails (a full disk): the download fails, nothing throws elsewhere.
    const failing = new Writable({ write: (_c, _e, cb) => cb(new Error('ENOSPC: no space left on device')) });
    await expect(rpc.download(Proc.STORAGE_VOL_DOWNLOAD, (w) => w.int(0), failing, { max_bytes: 2 ** 20 })).rejects.toThrow(/ENOSPC/);
    // More than the volume can hold is refused.
    await expect(rpc.download(Proc.STORAGE_VOL_DOWNLOAD, (w) => w.int(0), new PassThrough(), { max_bytes: 100 })).rejects.toThrow(
      /more than the 100 bytes/,
    );
    expect((await rpc.call(1)).string()).toBe('ok');
    rpc.close();
  });

  it('talks through ssh (a stand-in ssh on PATH piping to the daemon), still there long after the connect timeout', async () => {
    const d = await fakeDaemon(dir, (c, s) =>
      s.write(packet(c.proc, MessageType.REPLY, c.serial, MessageStatus.OK, new XdrWriter().string('via ssh').bytes())),
    );
    server = d.server;
    const bin = join(dir, 'bin');
    await mkdir(bin);
    // Records its arguments, then carries stdin/stdout to the daemon's socket, as `ssh host virt-ssh-helper` would.
    await writeFile(
      join(bin, 'ssh'),
      `#!/bin/sh\nprintf '%s\\n' "$@" > "${join(dir, 'ssh-args')}"\nexec node -e "const s=require('net').connect(process.argv[1]);process.stdin.pipe(s);s.pipe(process.stdout)" "${d.path}"\n`,
      { mode: 0o755 },
    );
    const path = process.env.PATH;
    process.env.PATH = `${bin}:${path}`;
    try {
      const target = parseLibvirtUri('qemu+ssh://ops@hv1.example/system');
      const rpc = new RpcConnection(await target.open(AbortSignal.timeout(200)), 2_000);
      await new Promise((r) => setTimeout(r, 600));
      expect((await rpc.call(1)).string()).toBe('via ssh');
      expect((await readFile(join(dir, 'ssh-args'), 'utf8')).trim().split('\n').slice(-4)).toEqual([
        '--',
        'hv1.example',
        'virt-ssh-helper',
        'qemu:///system',
      ]);
      rpc.close();
    } finally {
      process.env.PATH = path;
    }
  });

  it('fails waiting calls when the daemon goes away, and refuses new ones', async () => {
    const d = await fakeDaemon(dir, (_c, s) => s.destroy());
    server = d.server;
    const rpc = await connected(d.path);
    const closed = new Promise((resolve) => rpc.once('close', resolve));
    await expect(rpc.call(1)).rejects.toBeInstanceOf(ConnectionClosedError);
    expect(await closed).toMatch(/closed the connection/);
    await expect(rpc.call(1)).rejects.toBeInstanceOf(ConnectionClosedError);
  });

  it('gives up on a daemon that does not answer, and on one that sends an impossible packet', async () => {
    const silent = await fakeDaemon(dir, () => {});
    server = silent.server;
    const rpc = await connected(silent.path, 200);
    const other = rpc.call(2, undefined, { timeout_ms: 60_000 });
    await expect(rpc.call(1)).rejects.toThrow(/did not answer procedure 1 within 200 ms/);
    // Given up whole: the other call fails too, and the session will connect afresh.
    await expect(other).rejects.toBeInstanceOf(ConnectionClosedError);
    expect(rpc.closed).toBe(true);
    // Closed for good (its socket file gone) before the next daemon listens at the same path.
    await new Promise((resolve) => silent.server.close(resolve));

    const liar = await fakeDaemon(dir, (_c, s) => s.write(new XdrWriter().uint(2 ** 31).bytes()));
    server = liar.server;
    const rpc2 = await connected(liar.path);
    await expect(rpc2.call(1)).rejects.toThrow(/impossible length/);
  });
});

describe('RpcConnection giving up a hung daemon', () => {
  let dir: string;
  let server: Server | undefined;
  let rpc: RpcConnection | undefined;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hangar-rpc-clock-'));
  });
  afterEach(async () => {
    vi.useRealTimers();
    rpc?.close();
    await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
    await rm(dir, { recursive: true, force: true });
  });

  it('whatever the wall clock says when the timer fires (a busy event loop, a clock stepped back)', async () => {
    const silent = await fakeDaemon(dir, () => {});
    server = silent.server;
    rpc = await connected(silent.path, 200);
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    const other = rpc.call(2, undefined, { timeout_ms: 60_000 });
    other.catch(() => {});
    const first = rpc.call(1);
    // The timer fires at its time, but by the wall clock less than 200 ms have passed.
    vi.setSystemTime(Date.now() - 50);
    vi.advanceTimersByTime(200);
    await expect(first).rejects.toThrow(/did not answer procedure 1 within 200 ms/);
    // Given up whole, as when the clock agrees.
    expect(rpc.closed).toBe(true);
    await expect(other).rejects.toBeInstanceOf(ConnectionClosedError);
  });
});

describe('parseLibvirtUri', () => {
  it('reads the local socket, TCP and ssh forms, and opens the daemon by the plain name', () => {
    expect(parseLibvirtUri('qemu:///system')).toMatchObject({ name: 'qemu:///system', local: true });
    expect(parseLibvirtUri('qemu:///session')).toMatchObject({ name: 'qemu:///session', local: true });
    expect(parseLibvirtUri('qemu+tcp://10.0.0.5:16510/system')).toMatchObject({ name: 'qemu:///system', local: false });
    expect(parseLibvirtUri('qemu+ssh://admin@hv1.example:2222/system')).toMatchObject({ name: 'qemu:///system', local: false });
  });

  it('refuses what it cannot speak, saying why', () => {
    expect(() => parseLibvirtUri('xen:///system')).toThrow(/only qemu/);
    expect(() => parseLibvirtUri('qemu://hv1/system')).toThrow(/transport tls is not supported/);
    expect(() => parseLibvirtUri('qemu+tcp:///system')).toThrow(/needs a host/);
    expect(() => parseLibvirtUri('qemu:///embed?root=/tmp')).toThrow(/\/system or \/session/);
    expect(() => parseLibvirtUri('qemu+ssh://hv1/system?command=sh')).toThrow(/unsupported URI parameter command/);
    expect(() => parseLibvirtUri('not a uri')).toThrow(/not a URI/);
  });

  it('runs ssh with the host after the end of its options and a fixed remote command', () => {
    expect(parseLibvirtUri('qemu+ssh://admin@hv1.example:2222/system').command).toEqual([
      'ssh',
      '-T',
      '-o',
      'BatchMode=yes',
      '-e',
      'none',
      '-p',
      '2222',
      '-l',
      'admin',
      '--',
      'hv1.example',
      'virt-ssh-helper',
      'qemu:///system',
    ]);
  });

  it('refuses a host or user that reads as an ssh option or carries a command', () => {
    for (const uri of [
      'qemu+ssh://-oProxyCommand=touch%20x/system',
      'qemu+ssh://hv1%3Breboot/system',
      'qemu+ssh://-lroot@hv1/system',
      'qemu+ssh://a%20b@hv1/system',
      'qemu+ssh://$(reboot)@hv1/system',
    ]) {
      expect(() => parseLibvirtUri(uri), uri).toThrow();
    }
  });
});
