import { execFile } from 'node:child_process';
import { chmod, copyFile, mkdir, open, readFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { XMLParser } from 'fast-xml-parser';
import { RpcConnection } from '../drivers/libvirt/rpc/connection.js';
import { LibvirtRemote } from '../drivers/libvirt/rpc/remote.js';
import { parseLibvirtUri } from '../drivers/libvirt/rpc/transport.js';
import type { DirectBoot } from '../drivers/qemu/command-line.js';
import { isAlive } from '../processes/alive.js';
import { testGuest } from './qemu.js';

const run = promisify(execFile);
export const TEST_LIBVIRT_URI = 'qemu:///system';

/**
 * Why the real-libvirtd tests cannot run here, or null when they can. With
 * `HANGAR_TEST_REQUIRE_LIBVIRT=1` (CI sets it) a missing libvirtd fails the run instead of
 * skipping it: CI must not go green by testing nothing.
 */
export async function libvirtSkipReason(): Promise<string | null> {
  let reason: string | null = null;
  try {
    await run('qemu-system-x86_64', ['--version']);
    const remote = await openRemote();
    await remote.close();
  } catch (err) {
    reason = `libvirtd is not reachable at ${TEST_LIBVIRT_URI} (${(err as Error).message}): skipping the real-libvirt tests (start it: virtlogd -d; libvirtd -d)`;
  }
  if (reason && process.env.HANGAR_TEST_REQUIRE_LIBVIRT === '1') throw new Error(reason);
  if (reason) process.stderr.write(`\n[hangar] ${reason}\n`);
  return reason;
}

/** A bare protocol connection to the test libvirtd, for what a test checks from outside. */
export async function openRemote(): Promise<LibvirtRemote> {
  const target = parseLibvirtUri(TEST_LIBVIRT_URI);
  const remote = new LibvirtRemote(new RpcConnection(await target.open(AbortSignal.timeout(5_000)), 10_000));
  await remote.open(target.name, { timeout_ms: 10_000 });
  return remote;
}

/** `virsh` against the test libvirtd, as an admin would type it. */
export async function virsh(...args: string[]): Promise<string> {
  return (await run('virsh', ['-c', TEST_LIBVIRT_URI, ...args])).stdout;
}

/**
 * The tiny test guest, copied where QEMU (running as libvirt's user, not ours) may read it:
 * libvirt relabels the files it is given, but cannot open a directory it may not enter.
 */
export async function libvirtTestGuest(dir: string): Promise<DirectBoot> {
  const guest = testGuest();
  await mkdir(dir, { recursive: true });
  await chmod(dir, 0o755);
  const kernel = join(dir, 'vmlinuz');
  const initrd = join(dir, 'initramfs.cpio.gz');
  await copyFile(guest.kernel, kernel);
  await copyFile(guest.initrd!, initrd);
  await chmod(kernel, 0o644);
  await chmod(initrd, 0o644);
  return { ...guest, kernel, initrd };
}

/** Makes sure libvirt's `default` NAT network is up (the VMs' NICs join it). */
export async function ensureDefaultNetwork(): Promise<void> {
  const state = await virsh('net-info', 'default').catch(() => '');
  if (!/^Active:\s+yes/m.test(state)) await virsh('net-start', 'default');
}

/**
 * Types a line into a running domain's serial console (a pty libvirt allocated). QEMU notices
 * a reader on the pty by polling once a second and drops input until then, so the pty is held
 * open around the write.
 */
/** Returns when the line was written (ms since the epoch). */
export async function typeOnSerial(domain: string, line: string): Promise<number> {
  const xml = await virsh('dumpxml', domain);
  const doc = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '@' }).parse(xml);
  const serial = [doc.domain.devices.serial].flat()[0];
  const pty = serial?.source?.['@path'];
  if (!pty) throw new Error(`domain ${domain} has no serial pty`);
  const fh = await open(pty, 'r+');
  try {
    await sleep(1_500);
    await fh.write(`\n${line}\n`);
    const written = Date.now();
    await sleep(500);
    return written;
  } finally {
    await fh.close();
  }
}

const PIDFILE = '/run/libvirtd.pid';

/** Stops libvirtd (its domains keep running: QEMU is not libvirtd's child). */
export async function stopLibvirtd(): Promise<void> {
  const pid = Number((await readFile(PIDFILE, 'utf8')).trim());
  process.kill(pid, 'SIGTERM');
  for (let i = 0; i < 200; i++) {
    if (!isAlive(pid)) return;
    await sleep(50);
  }
  throw new Error(`libvirtd (pid ${pid}) did not exit`);
}

/** Starts libvirtd as a daemon and waits until its socket answers. */
export async function startLibvirtd(): Promise<void> {
  await run('libvirtd', ['-d']);
  const socket = '/run/libvirt/libvirt-sock';
  for (let i = 0; i < 200; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(socket);
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    await sleep(50);
  }
  throw new Error('libvirtd did not open its socket');
}

/**
 * libvirtd as a remote host would offer it: a TCP port (on loopback) that carries the RPC
 * protocol to the local daemon's socket. A driver given `qemu+tcp://127.0.0.1:<port>/system`
 * takes it for a remote host: no file of the host is its to touch, disks go up and come down
 * through libvirt's streams.
 */
export async function libvirtOverTcp(): Promise<{ uri: string; close(): Promise<void> }> {
  const { createServer } = await import('node:net');
  const sockets = new Set<import('node:net').Socket>();
  const server = createServer((client) => {
    const daemon = connect('/run/libvirt/libvirt-sock');
    for (const s of [client, daemon]) {
      sockets.add(s);
      s.on('error', () => {});
      s.on('close', () => sockets.delete(s));
    }
    client.pipe(daemon).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as import('node:net').AddressInfo;
  return {
    uri: `qemu+tcp://127.0.0.1:${port}/system`,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
