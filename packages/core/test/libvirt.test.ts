import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { chmod, copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LibvirtDriver } from '../src/drivers/libvirt/driver.js';
import type { DirectBoot } from '../src/drivers/qemu/command-line.js';
import {
  type ControlPlane,
  type Database,
  DriverError,
  ensureProject,
  HangarError,
  type Scope,
  silentLogger,
  startControlPlane,
  type VmActionResult,
} from '../src/index.js';
import {
  type ConformanceSubject,
  createTestDatabase,
  describeDriverConformance,
  ensureDefaultNetwork,
  libvirtOverTcp,
  libvirtSkipReason,
  libvirtTestGuest,
  openRemote,
  startLibvirtd,
  stopLibvirtd,
  TEST_LIBVIRT_URI,
  typeOnSerial,
  virsh,
  waitForText,
} from '../src/testing/index.js';

// Everything that talks to the real libvirtd is in this one file: its tests run one after
// another, and one of them restarts the daemon.

const skip = await libvirtSkipReason();
const UP = 'hangar-test-guest: up';
const small = { cpu_cores: 1, memory_mb: 256, disk_gb: 1 };
let boot: DirectBoot | undefined;
let bootDir: string;
/** Hangar domains libvirtd held before this file ran: not ours to clean up. */
let before = new Set<string>();

async function hangarDomains(): Promise<string[]> {
  const remote = await openRemote();
  try {
    return (await remote.listDomains()).map((d) => d.name).filter((n) => n.startsWith('hangar-'));
  } finally {
    await remote.close();
  }
}

beforeAll(async () => {
  if (skip) return;
  bootDir = await mkdtemp('/tmp/hangar-libvirt-guest-');
  boot = await libvirtTestGuest(bootDir);
  await ensureDefaultNetwork();
  before = new Set(await hangarDomains());
}, 120_000);

afterAll(async () => {
  if (skip) return;
  // Nothing this file defined may stay defined in libvirtd.
  const left = (await hangarDomains()).filter((n) => !before.has(n));
  for (const name of left) {
    await virsh('destroy', name).catch(() => '');
    await virsh('undefine', name).catch(() => '');
  }
  // Each pool must be empty by now: every VM was deleted with its disks.
  const leftVolumes: string[] = [];
  for (const pool of pools) {
    const vols = await virsh('vol-list', pool).catch(() => '');
    leftVolumes.push(...vols.split('\n').filter((l) => /\.(qcow2|img)\s/.test(l)));
    await virsh('pool-destroy', pool).catch(() => '');
    await virsh('pool-undefine', pool).catch(() => '');
  }
  await rm(bootDir, { recursive: true, force: true });
  await tcp?.close();
  expect(left).toEqual([]);
  expect(leftVolumes).toEqual([]);
}, 60_000);

const bootCounts = new Map<string, number>();
/** Storage pools this file made (one per image directory): removed after it, with their volumes gone. */
const pools = new Set<string>();
const make = (image_dir: string, over: Partial<ConstructorParameters<typeof LibvirtDriver>[0]> = {}) => {
  const pool = `hangar-test-${basename(dirname(image_dir))}-${basename(image_dir)}`;
  pools.add(pool);
  return new LibvirtDriver({ uri: TEST_LIBVIRT_URI, image_dir, pool, domain_type: 'qemu', boot, ...over });
};

/** The conformance suite against libvirt, the driver reaching it at the URI `uri()` gives. */
function libvirtSubject(name: string, uri: () => Promise<string>, console = true): ConformanceSubject {
  return {
    name,
    skip,
    // Only a driver on the same machine as libvirtd reads the log libvirt writes, or reaches the screen.
    boot_text: console ? UP : undefined,
    screen: console,
    make: async (root) => {
      // QEMU runs as libvirt's user: it must be able to pass through to the disks.
      await chmod(root, 0o711);
      return make(join(root, 'images'), { uri: await uri() });
    },
    // The guest prints UP on every boot; each boot of a domain waits for one more.
    async booted(driver, ref) {
      const count = (bootCounts.get(ref) ?? 0) + 1;
      bootCounts.set(ref, count);
      await waitForText((driver as LibvirtDriver).files(ref).console, UP, { count });
    },
    async cleanup(driver, ref) {
      await driver.undefine(ref, { delete_disks: true });
    },
    timeout_ms: 60_000,
  };
}

describeDriverConformance(libvirtSubject('libvirt', async () => TEST_LIBVIRT_URI));
// The same suite through a TCP port: the driver treats the host as remote (disks through
// libvirt's upload and download streams, no file of the host read directly).
let tcp: Awaited<ReturnType<typeof libvirtOverTcp>> | null = null;
describeDriverConformance(
  libvirtSubject(
    'libvirt over qemu+tcp (a remote host)',
    async () => {
      tcp ??= await libvirtOverTcp();
      return tcp.uri;
    },
    false,
  ),
);

const run = promisify(execFile);
const qemuImgInfo = async (path: string) =>
  JSON.parse((await run('qemu-img', ['info', '--output=json', '-U', path])).stdout) as Record<string, unknown>;

describe.skipIf(skip !== null)('libvirt driver against a real libvirtd', () => {
  let dir: string;
  let database: Database;
  let driver: LibvirtDriver;
  let cp: ControlPlane;
  let scope: Scope;

  const start = async (d: LibvirtDriver) =>
    startControlPlane({
      database,
      hosts: [{ name: 'libvirt-1', driver: d }],
      worker: { poll_ms: 100 },
      reconciler: { interval_ms: 60_000 },
      logger: silentLogger,
    });

  beforeAll(async () => {
    dir = await mkdtemp('/tmp/hangar-libvirt-');
    await chmod(dir, 0o711);
    database = await createTestDatabase();
    driver = make(join(dir, 'images'));
    cp = await start(driver);
    scope = { project_id: (await ensureProject(database.db, 'libvirt')).id, actor: 'test' };
  }, 120_000);

  afterAll(async () => {
    if (!cp) return;
    for (const d of await driver.list().catch(() => [])) await driver.undefine(d.ref, { delete_disks: true }).catch(() => {});
    await cp.close();
    await database.close();
    await rm(dir, { recursive: true, force: true });
  }, 60_000);

  /** The path of a VM's disk volume, as libvirt reports it. */
  const volumeOf = async (vmId: string) => {
    const pool = `hangar-test-${basename(dir)}-images`;
    return (await virsh('vol-path', '--pool', pool, `${vmId}.qcow2`).catch(() => virsh('vol-path', '--pool', pool, `${vmId}.img`))).trim();
  };

  async function done(p: Promise<VmActionResult>) {
    const r = await p;
    const { operation } = await cp.services.operations.wait(scope, r.operation!.id, { timeout_ms: 60_000 });
    expect(operation, operation.error ?? '').toMatchObject({ status: 'succeeded' });
    return operation;
  }
  const running = async (name: string) => {
    const r = await cp.services.vms.create(scope, { name, start: true, ...small });
    await done(Promise.resolve(r));
    await waitForText(driver.files(r.vm.id).console, UP);
    return r.vm.id;
  };

  it('runs the lifecycle through the service layer: the domain is in virsh list, with its XML', async () => {
    const { services } = cp;
    const r = await services.vms.create(scope, { name: 'svc', ...small });
    await done(Promise.resolve(r));
    const id = r.vm.id;
    const name = `hangar-${id}`;
    expect(await virsh('domstate', name)).toContain('shut off');
    await done(services.vms.start(scope, id));
    expect(await virsh('domstate', name)).toContain('running');
    await done(services.vms.pause(scope, id));
    expect(await virsh('domstate', name)).toContain('paused');
    await done(services.vms.resume(scope, id));
    await done(services.vms.force_stop(scope, id));
    expect(await virsh('domstate', name)).toContain('shut off');
    await done(services.vms.update(scope, id, { memory_mb: 320 }));
    // The config view shows what libvirt holds, changed with the VM.
    const xml = await services.vms.config_xml(scope, id);
    expect(xml).toContain(`<name>${name}</name>`);
    expect(xml).toContain(`<memory unit='KiB'>${320 * 1024}</memory>`);
    expect(xml).toContain('hangar:vm');
    await done(services.vms.delete(scope, id));
    await expect(virsh('domstate', name)).rejects.toThrow(/failed to get domain/);
  }, 120_000);

  it('hears a guest that powers itself off at once (a libvirt event, not the periodic check)', async () => {
    const id = await running('self-poweroff');
    const typed = await typeOnSerial(`hangar-${id}`, 'poweroff -f');
    const seen = await cp.services.vms.wait(scope, id, 'stopped', { timeout_ms: 15_000 });
    expect(seen.timed_out).toBe(false);
    // The reconciler's periodic check is a minute away: only the event can have been this quick
    // (the time includes the guest, under TCG, running poweroff).
    expect(Date.now() - typed).toBeLessThan(3_000);
    const events = await cp.services.vms.events(scope, id);
    expect(events.at(-1)).toMatchObject({ type: 'vm.drift', to_status: 'stopped' });
    expect(events.at(-1)!.message).toContain('the guest powered off');
    await done(cp.services.vms.delete(scope, id));
  }, 120_000);

  it('notices `virsh destroy` from outside as drift, and starts the VM again', async () => {
    const id = await running('destroyed');
    await virsh('destroy', `hangar-${id}`);
    const seen = await cp.services.vms.wait(scope, id, 'stopped', { timeout_ms: 10_000 });
    expect(seen.timed_out).toBe(false);
    const events = await cp.services.vms.events(scope, id);
    expect(events.at(-1)!.message).toContain('destroyed');
    await done(cp.services.vms.start(scope, id));
    expect(await virsh('domstate', `hangar-${id}`)).toContain('running');
    await done(cp.services.vms.delete(scope, id));
  }, 120_000);

  it('survives libvirtd restarting: the host goes offline with the reason (503), VMs keep running, and it all comes back', async () => {
    const id = await running('through-restart');
    // A second VM whose QEMU dies while libvirtd is down: no event can tell of it.
    const lost = await running('lost-while-down');
    const reconciler = cp.reconciler!;
    const hostId = cp.hosts[0]!.id;
    await stopLibvirtd();
    try {
      const err = await driver.state(id).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DriverError);
      expect((err as DriverError).kind).toBe('unavailable');
      expect((await driver.inventory()).unavailable).toMatch(/libvirtd/);
      await reconciler.checkHost(hostId, driver);
      const refused = await cp.services.vms.create(scope, { name: 'while-down', ...small }).catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(HangarError);
      expect(refused).toMatchObject({ code: 'HOST_UNAVAILABLE' });
      expect((refused as Error).message).toMatch(/libvirtd/);
      expect((await cp.services.vms.get(scope, id)).status).toBe('unknown');
      expect((await cp.services.hosts.get(hostId)).status_reason).toMatch(/libvirtd/);
      await expect(cp.services.vms.config_xml(scope, id)).rejects.toMatchObject({ code: 'HOST_UNAVAILABLE' });
      process.kill(Number(await readFile(`/run/libvirt/qemu/hangar-${lost}.pid`, 'utf8')), 'SIGKILL');
    } finally {
      await startLibvirtd();
    }
    // The driver reconnects by itself and looks at every domain once: the lost VM is seen
    // stopped without waiting for the reconciler's periodic check (a minute away).
    const seen = await cp.services.vms.wait(scope, lost, ['stopped'], { timeout_ms: 15_000 });
    expect(seen.timed_out).toBe(false);
    expect((await cp.services.vms.events(scope, lost)).at(-1)!.message).toContain('after reconnecting to libvirtd');
    await expect.poll(() => driver.state(id).catch(() => 'unreachable'), { timeout: 15_000 }).toBe('running');
    await reconciler.checkHost(hostId, driver);
    expect((await cp.services.vms.get(scope, id)).status).toBe('running');
    expect((await cp.services.hosts.get(hostId)).status).toBe('online');
    // Events flow again on the new connection.
    await typeOnSerial(`hangar-${id}`, 'poweroff -f');
    expect((await cp.services.vms.wait(scope, id, 'stopped', { timeout_ms: 10_000 })).timed_out).toBe(false);
    await done(cp.services.vms.delete(scope, id));
    await done(cp.services.vms.delete(scope, lost));
  }, 180_000);

  it('starts while libvirtd is down: the host is offline with the reason, and gets its capacity once libvirtd is back', async () => {
    const late = await createTestDatabase();
    const lateDriver = make(join(dir, 'late-images'));
    await stopLibvirtd();
    let lateCp: ControlPlane | null = null;
    try {
      lateCp = await startControlPlane({
        database: late,
        hosts: [{ name: 'libvirt-late', driver: lateDriver }],
        worker: { poll_ms: 100 },
        reconciler: { interval_ms: 60_000 },
        logger: silentLogger,
      });
      const host = lateCp.hosts[0]!;
      expect(host).toMatchObject({ status: 'offline', capacity: { cpus: 0, memory_mb: 0 } });
      expect(host.status_reason).toMatch(/libvirtd/);
    } finally {
      await startLibvirtd();
    }
    try {
      await expect.poll(() => lateDriver.state(randomUUID()).catch(() => 'unreachable'), { timeout: 15_000 }).toBe('missing');
      const host = lateCp.hosts[0]!;
      await lateCp.reconciler!.checkHost(host.id, lateDriver);
      const back = await lateCp.services.hosts.get(host.id);
      expect(back.status).toBe('online');
      expect(back.capacity.cpus).toBeGreaterThan(0);
      expect(back.capacity.memory_mb).toBeGreaterThan(0);
    } finally {
      await lateCp.close();
      await lateDriver.close();
      await late.close();
    }
  }, 120_000);

  it('re-adopts running VMs when Hangar restarts, and leaves domains without its metadata alone', async () => {
    const id = await running('adopted');
    // Someone else's domain on the same libvirtd.
    const foreign = `other-${Date.now()}`;
    const foreignXml = join(dir, 'foreign.xml');
    await writeFile(
      foreignXml,
      `<domain type='qemu'><name>${foreign}</name><memory unit='MiB'>64</memory><os><type arch='x86_64'>hvm</type></os></domain>`,
    );
    await virsh('define', foreignXml);
    try {
      await cp.close();
      await driver.close();
      driver = make(join(dir, 'images'));
      cp = await start(driver);
      expect((await driver.list()).find((d) => d.ref === id)?.state).toBe('running');
      expect((await driver.list()).some((d) => d.vm_id === null)).toBe(false);
      expect((await cp.services.hosts.unmanaged(cp.hosts[0]!.id)).map((d) => d.name)).toContain(foreign);
      await cp.reconciler!.checkHost(cp.hosts[0]!.id, driver);
      expect((await cp.services.vms.get(scope, id)).status).toBe('running');
      // The new control plane drives it: a graceful stop reaches the guest.
      await done(cp.services.vms.stop(scope, id));
      expect(await virsh('domstate', `hangar-${id}`)).toContain('shut off');
      await done(cp.services.vms.delete(scope, id));
      // Delete never touched the foreign domain.
      expect(await virsh('domstate', foreign)).toContain('shut off');
    } finally {
      await virsh('undefine', foreign);
    }
  }, 180_000);

  it('makes disks from qcow2 and raw images in the storage pool, at the size asked, with the image inside', async () => {
    const img = join(dir, 'base.qcow2');
    const raw = join(dir, 'base.img');
    await run('qemu-img', ['create', '-f', 'qcow2', img, '64M']);
    await run('qemu-io', ['-f', 'qcow2', '-c', 'write -P 0xab 1M 64k', img]);
    await run('qemu-img', ['convert', '-O', 'raw', img, raw]);
    const network = { type: 'nat' as const, bridge_name: null, mac_address: null, ip_address: null };
    for (const base of [
      { path: img, format: 'qcow2' as const },
      { path: raw, format: 'raw' as const },
    ]) {
      const vm_id = randomUUID();
      await driver.define({
        vm_id,
        name: `from-${base.format}`,
        ...small,
        os_type: 'linux',
        vnc_enabled: false,
        network,
        base_image: base,
      });
      try {
        const vol = await volumeOf(vm_id);
        expect(await qemuImgInfo(vol)).toMatchObject({ format: base.format, 'virtual-size': small.disk_gb * 2 ** 30 });
        await run('qemu-img', ['compare', '-f', base.format, '-F', base.format, base.path, vol]);
        expect(await driver.configXml(vm_id)).toContain(`type='${base.format}'`);
        await driver.start(vm_id);
        expect(await driver.state(vm_id)).toBe('running');
      } finally {
        await driver.undefine(vm_id, { delete_disks: true });
      }
    }
    // A disk image larger than the VM's disk is refused, and nothing is left.
    const big = join(dir, 'big.qcow2');
    await run('qemu-img', ['create', '-f', 'qcow2', big, '2G']);
    const vm_id = randomUUID();
    await expect(
      driver.define({
        vm_id,
        name: 'too-big',
        ...small,
        os_type: 'linux',
        vnc_enabled: false,
        network,
        base_image: { path: big, format: 'qcow2' },
      }),
    ).rejects.toThrow(/larger than disk_gb 1/);
    expect(await driver.state(vm_id)).toBe('missing');
    await expect(volumeOf(vm_id)).rejects.toThrow();
  }, 120_000);

  it('exports from a remote host by downloading the disk (released after), and imports by uploading it', async () => {
    tcp ??= await libvirtOverTcp();
    const remote = make(join(dir, 'images'), { uri: tcp.uri, scratch_dir: join(dir, 'scratch') });
    const network = { type: 'nat' as const, bridge_name: null, mac_address: null, ip_address: null };
    const vm_id = randomUUID();
    const copy_id = randomUUID();
    try {
      await remote.define({ vm_id, name: 'remote-export', ...small, os_type: 'linux', vnc_enabled: false, network });
      await run('qemu-io', ['-f', 'qcow2', '-c', 'write -P 0xcd 4M 128k', await volumeOf(vm_id)]);
      const [disk] = await remote.exportDisks(vm_id);
      expect(disk!.path.startsWith(join(dir, 'scratch'))).toBe(true);
      await run('qemu-img', ['compare', '-f', 'qcow2', '-F', 'qcow2', disk!.path, await volumeOf(vm_id)]);
      await remote.importDomain({ vm_id: copy_id, name: 'remote-import', ...small, os_type: 'linux', vnc_enabled: false, network }, [
        disk!,
      ]);
      await run('qemu-img', ['compare', '-f', 'qcow2', '-F', 'qcow2', await volumeOf(vm_id), await volumeOf(copy_id)]);
      await disk!.release!();
      await expect(readFile(disk!.path)).rejects.toThrow(/ENOENT/);
    } finally {
      await remote.undefine(vm_id, { delete_disks: true });
      await remote.undefine(copy_id, { delete_disks: true });
      await remote.close();
    }
  }, 120_000);

  it('attaches VMs only to bridges the operator allowed', async () => {
    const strict = make(join(dir, 'images'), { allowed_bridges: ['br-tenants'] });
    const vm_id = randomUUID();
    try {
      const bridge = (name: string) => ({ type: 'bridge' as const, bridge_name: name, mac_address: null, ip_address: null });
      const spec = { vm_id, name: 'bridged', ...small, os_type: 'linux' as const, vnc_enabled: false };
      await expect(strict.define({ ...spec, network: bridge('br-mgmt') })).rejects.toThrow(/not one this host allows/);
      expect(await strict.state(vm_id)).toBe('missing');
      await strict.define({ ...spec, network: bridge('br-tenants') });
      expect(await strict.configXml(vm_id)).toContain("<source bridge='br-tenants'/>");
      await expect(strict.reconfigure(vm_id, { network: bridge('docker0') })).rejects.toThrow(/not one this host allows/);
    } finally {
      await strict.undefine(vm_id, { delete_disks: true });
      await strict.close();
    }
  }, 60_000);

  it("leaves alone a domain that is not Hangar's even when it holds a VM's UUID", async () => {
    const uuid = randomUUID();
    const name = `someone-elses-${Date.now()}`;
    const xml = join(dir, 'squatter.xml');
    await writeFile(
      xml,
      `<domain type='qemu'><name>${name}</name><uuid>${uuid}</uuid><memory unit='MiB'>64</memory><os><type arch='x86_64'>hvm</type></os></domain>`,
    );
    await virsh('define', xml);
    try {
      expect(await driver.state(uuid)).toBe('missing');
      await driver.kill(uuid);
      await driver.undefine(uuid, { delete_disks: true });
      await expect(driver.start(uuid)).rejects.toMatchObject({ kind: 'not_found' });
      const network = { type: 'nat' as const, bridge_name: null, mac_address: null, ip_address: null };
      await expect(driver.define({ vm_id: uuid, name: 'clash', ...small, os_type: 'linux', vnc_enabled: false, network })).rejects.toThrow(
        /not Hangar's, has this VM's UUID/,
      );
      expect(await virsh('domstate', name)).toContain('shut off');
    } finally {
      await virsh('undefine', name);
    }
  }, 60_000);

  it('does not resize a raw disk that libvirt has come to see as qcow2 (a guest wrote a header into it)', async () => {
    const raw = join(dir, 'plain.img');
    await run('qemu-img', ['create', '-f', 'raw', raw, '16M']);
    const vm_id = randomUUID();
    const network = { type: 'nat' as const, bridge_name: null, mac_address: null, ip_address: null };
    await driver.define({
      vm_id,
      name: 'raw-disk',
      ...small,
      os_type: 'linux',
      vnc_enabled: false,
      network,
      base_image: { path: raw, format: 'raw' },
    });
    try {
      const vol = await volumeOf(vm_id);
      // What a guest can do to its own raw disk: write a qcow2 header naming a backing file.
      const hostile = join(dir, 'hostile.qcow2');
      await run('qemu-img', ['create', '-f', 'qcow2', '-b', '/etc/shadow', '-F', 'raw', hostile, '1G']);
      await run('dd', [`if=${hostile}`, `of=${vol}`, 'conv=notrunc', 'status=none']);
      await virsh('pool-refresh', `hangar-test-${basename(dir)}-images`);
      await expect(driver.reconfigure(vm_id, { disk_gb: 2 })).rejects.toThrow(/not the raw it was made as/);
    } finally {
      await driver.undefine(vm_id, { delete_disks: true });
    }
  }, 60_000);

  it("boots a VM under Hangar's private umask (the server's): QEMU, as libvirt's user, still reaches the disk", async () => {
    const old = process.umask(0o077);
    const private_ = make(join(dir, 'private-images'));
    const vm_id = randomUUID();
    try {
      const network = { type: 'nat' as const, bridge_name: null, mac_address: null, ip_address: null };
      await private_.define({ vm_id, name: 'umask', ...small, os_type: 'linux', vnc_enabled: false, network });
      await private_.start(vm_id);
      expect(await private_.state(vm_id)).toBe('running');
    } finally {
      process.umask(old);
      await private_.undefine(vm_id, { delete_disks: true });
      await private_.close();
    }
  }, 60_000);

  it("hands a stopped domain's disk over for export, and defines a new domain from an imported one", async () => {
    const r = await cp.services.vms.create(scope, { name: 'exported', ...small });
    await done(Promise.resolve(r));
    const [disk] = await driver.exportDisks(r.vm.id);
    expect(disk).toMatchObject({ name: 'disk0.qcow2', format: 'qcow2' });
    expect(disk!.release).toBeUndefined(); // this machine's own volume, not a copy
    expect((await readFile(disk!.path)).subarray(0, 4).toString('latin1')).toBe('QFI\xfb');
    const copy = join(dir, 'incoming.qcow2');
    await copyFile(disk!.path, copy);
    const vm_id = randomUUID();
    const spec = { vm_id, name: 'imported', ...small, os_type: 'linux' as const, vnc_enabled: false };
    const network = { type: 'nat' as const, bridge_name: null, mac_address: null, ip_address: null };
    const imported = await driver.importDomain({ ...spec, network }, [{ ...disk!, path: copy }]);
    try {
      expect(imported.ref).toBe(vm_id);
      // The new domain's volume holds the same disk, at the VM's size.
      const vol = await volumeOf(vm_id);
      expect(await qemuImgInfo(vol)).toMatchObject({ format: 'qcow2', 'virtual-size': small.disk_gb * 2 ** 30 });
      await run('qemu-img', ['compare', '-f', 'qcow2', '-F', 'qcow2', copy, vol]);
      await driver.start(vm_id);
      await waitForText(driver.files(vm_id).console, UP);
      // A running domain's disk is not handed out.
      await expect(driver.exportDisks(vm_id)).rejects.toThrow(/stop it/);
    } finally {
      await driver.undefine(vm_id, { delete_disks: true });
    }
    await done(cp.services.vms.delete(scope, r.vm.id));
  }, 120_000);
});
