import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QemuDriver } from '../src/drivers/qemu/driver.js';
import {
  type ControlPlane,
  chooseAccel,
  type Database,
  ensureProject,
  QemuImg,
  type Scope,
  silentLogger,
  startControlPlane,
  UrlPolicy,
  type VmActionResult,
} from '../src/index.js';
import { createTestDatabase, qemuProcessesUnder, qemuSkipReason, serveFiles, testGuest, waitForText } from '../src/testing/index.js';

const skip = qemuSkipReason();

/** The first bytes a VNC server sends: its protocol version. */
function rfbBanner(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(path);
    s.once('error', reject);
    s.once('data', (d) => {
      s.destroy();
      resolve(d.toString('latin1'));
    });
  });
}

/** TCP ports a process listens on: its socket inodes matched against the kernel's LISTEN table. */
function tcpListenersOf(pid: number): number[] {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    const m = /^socket:\[(\d+)\]$/.exec(safeReadlink(`/proc/${pid}/fd/${fd}`));
    if (m) inodes.add(m[1]!);
  }
  const ports: number[] = [];
  for (const table of ['tcp', 'tcp6']) {
    for (const line of readFileSync(`/proc/${pid}/net/${table}`, 'utf8').split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      // Columns: sl local_address rem_address st ... inode (10th); 0A is LISTEN.
      if (f[3] === '0A' && inodes.has(f[9]!)) ports.push(parseInt(f[1]!.split(':')[1]!, 16));
    }
  }
  return ports;
}

function safeReadlink(p: string): string {
  try {
    return readlinkSync(p);
  } catch {
    return '';
  }
}
const small = { cpu_cores: 1, memory_mb: 256, disk_gb: 1 };
const UP = 'hangar-test-guest: up';

describe.skipIf(skip !== null)('QEMU driver against real QEMU (TCG)', () => {
  let dir: string;
  let database: Database;
  let driver: QemuDriver;
  let cp: ControlPlane;
  let scope: Scope;

  beforeAll(async () => {
    const boot = testGuest();
    // Short: QEMU's unix socket paths must fit in 107 bytes.
    dir = await mkdtemp('/tmp/hq-core-');
    database = await createTestDatabase();
    driver = new QemuDriver({ root: `${dir}/vms`, accel: 'tcg', boot });
    cp = await startControlPlane({
      database,
      hosts: [{ name: 'qemu-1', driver }],
      worker: { poll_ms: 100 },
      reconciler: { interval_ms: 60_000 },
      logger: silentLogger,
      // The test's image server is on this machine's loopback, which tenants' URLs may not reach by default.
      image_downloads: { url_policy: new UrlPolicy(['127.0.0.1']) },
    });
    scope = { project_id: (await ensureProject(database.db, 'qemu')).id, actor: 'test' };
  }, 120_000);

  afterAll(async () => {
    if (!cp) return;
    for (const id of await driver
      .list()
      .then((l) => l.map((d) => d.ref))
      .catch(() => []))
      await driver.kill(id);
    await cp.close();
    await database.close();
    // No QEMU may outlive the suite.
    expect(await qemuProcessesUnder(dir)).toEqual([]);
    await rm(dir, { recursive: true, force: true });
  }, 60_000);

  async function done(p: Promise<VmActionResult>) {
    const r = await p;
    const { operation } = await cp.services.operations.wait(scope, r.operation!.id, { timeout_ms: 60_000 });
    expect(operation, operation.error ?? '').toMatchObject({ status: 'succeeded' });
    return operation;
  }
  const qmpStatus = async (id: string) => (await driver.qmp<{ status: string }>(id, 'query-status')).status;
  const files = (id: string) => ({
    dir: `${dir}/vms/${id}`,
    console: `${dir}/vms/${id}/console.log`,
    disk: `${dir}/vms/${id}/disk0.qcow2`,
  });

  it('runs the whole lifecycle through the service layer', async () => {
    const { services } = cp;
    const created = await services.vms.create(scope, { name: 'lifecycle', ...small });
    await done(Promise.resolve(created));
    const id = created.vm.id;
    const f = files(id);
    expect((await new QemuImg().info(f.disk)).virtual_size).toBe(2 ** 30);
    // The console is a unix socket in the VM's directory, not a TCP port.
    expect((await services.vms.get(scope, id)).vnc_port).toBeNull();

    await done(services.vms.start(scope, id));
    expect(await qmpStatus(id)).toBe('running');
    await waitForText(f.console, UP);
    expect(await rfbBanner(`${f.dir}/vnc.sock`)).toMatch(/^RFB \d{3}\.\d{3}\n$/);
    expect(tcpListenersOf((await driver.pid(id))!)).toEqual([]);

    await done(services.vms.pause(scope, id));
    expect(await qmpStatus(id)).toBe('paused');
    await done(services.vms.resume(scope, id));
    expect(await qmpStatus(id)).toBe('running');

    // Graceful: the guest's acpid powers it off on the ACPI button; nothing is forced.
    const stop = await done(services.vms.stop(scope, id, { timeout_s: 30 }));
    const stopped = (await services.vms.events(scope, id)).find((e) => e.operation_id === stop.id && e.type === 'operation.succeeded');
    expect(stopped?.data).toMatchObject({ forced: false });
    await waitForText(f.console, 'power button, powering off');
    expect(await driver.pid(id)).toBeNull();
    expect((await services.vms.get(scope, id)).status).toBe('stopped');

    await done(services.vms.start(scope, id));
    await waitForText(f.console, UP, { count: 2 });
    await done(services.vms.reset(scope, id));
    // The guest boots again after the reset.
    await waitForText(f.console, UP, { count: 3 });
    expect(await qmpStatus(id)).toBe('running');

    const pid = (await driver.pid(id))!;
    await done(services.vms.force_stop(scope, id));
    expect(await qemuProcessesUnder(f.dir)).toEqual([]);
    expect(pid).toBeGreaterThan(0);

    await done(services.vms.update(scope, id, { disk_gb: 3 }));
    expect((await new QemuImg().info(f.disk)).virtual_size).toBe(3 * 2 ** 30);
    expect((await services.vms.get(scope, id)).disk_gb).toBe(3);

    await done(services.vms.delete(scope, id, { delete_disks: true }));
    expect(existsSync(f.dir)).toBe(false);
  }, 180_000);

  it('restarts a running VM, gracefully (ACPI) and forced: a new QEMU, and the guest boots again', async () => {
    const { services } = cp;
    const r = await services.vms.create(scope, { name: 'restarted', start: true, ...small });
    await done(Promise.resolve(r));
    const id = r.vm.id;
    const f = files(id);
    await waitForText(f.console, UP);
    const count = async (text: string) => (await readFile(f.console, 'utf8')).split(text).length - 1;
    const forcedOf = async (opId: string) =>
      (await services.vms.events(scope, id)).find((e) => e.operation_id === opId && e.type === 'operation.succeeded')?.data;
    const firstPid = (await driver.pid(id))!;

    // Graceful: the guest's acpid powers it off on the ACPI button, then a new QEMU boots it.
    const graceful = await done(services.vms.restart(scope, id, { timeout_s: 30 }));
    expect(await forcedOf(graceful.id)).toMatchObject({ forced: false });
    expect(await count('power button, powering off')).toBe(1);
    await waitForText(f.console, UP, { count: 2 });
    const secondPid = (await driver.pid(id))!;
    expect(secondPid).toBeGreaterThan(0);
    expect(secondPid).not.toBe(firstPid);
    expect(await qemuProcessesUnder(f.dir)).toEqual([secondPid]);
    expect(await qmpStatus(id)).toBe('running');
    expect((await services.vms.get(scope, id)).status).toBe('running');

    // Forced: QEMU is killed and started again; the guest never sees the power button.
    const forced = await done(services.vms.restart(scope, id, { force: true }));
    expect(await forcedOf(forced.id)).toMatchObject({ forced: true });
    await waitForText(f.console, UP, { count: 3 });
    expect(await count('power button, powering off')).toBe(1);
    const thirdPid = (await driver.pid(id))!;
    expect(thirdPid).toBeGreaterThan(0);
    expect([firstPid, secondPid]).not.toContain(thirdPid);
    expect(await qemuProcessesUnder(f.dir)).toEqual([thirdPid]);
    expect(await qmpStatus(id)).toBe('running');
    expect((await services.vms.get(scope, id)).status).toBe('running');

    await done(services.vms.delete(scope, id));
    expect(await qemuProcessesUnder(f.dir)).toEqual([]);
  }, 120_000);

  it('notices a guest that powers itself off from its serial console', async () => {
    const { services } = cp;
    const r = await services.vms.create(scope, { name: 'self-poweroff', start: true, ...small });
    await done(Promise.resolve(r));
    const id = r.vm.id;
    await waitForText(files(id).console, UP);
    const serial = connect(driver.serialSocket(id));
    await new Promise((res) => serial.once('connect', res));
    serial.write('\npoweroff -f\n');
    const t0 = Date.now();
    const seen = await services.vms.wait(scope, id, 'stopped', { timeout_ms: 15_000 });
    serial.destroy();
    expect(seen.timed_out).toBe(false);
    expect(Date.now() - t0).toBeLessThan(5_000);
    const events = await services.vms.events(scope, id);
    expect(events.at(-1)).toMatchObject({ type: 'vm.drift', to_status: 'stopped' });
    expect(events.at(-1)!.message).toContain('the guest powered off');
    await done(services.vms.delete(scope, id));
  }, 120_000);

  it('notices a QEMU process killed with SIGKILL', async () => {
    const { services } = cp;
    const r = await services.vms.create(scope, { name: 'killed', start: true, ...small });
    await done(Promise.resolve(r));
    const id = r.vm.id;
    const pid = (await driver.pid(id))!;
    process.kill(pid, 'SIGKILL');
    const seen = await services.vms.wait(scope, id, 'stopped', { timeout_ms: 10_000 });
    expect(seen).toMatchObject({ timed_out: false, vm: { status: 'stopped', last_error: 'the domain crashed' } });
    const events = await services.vms.events(scope, id);
    expect(events.at(-1)!.message).toContain(`the QEMU process (pid ${pid}) exited unexpectedly`);
    // It starts again from there.
    await done(services.vms.start(scope, id));
    expect(await qmpStatus(id)).toBe('running');
    await done(services.vms.delete(scope, id));
    expect(await qemuProcessesUnder(dir)).toEqual([]);
  }, 120_000);

  it('attaches an ISO as a CD-ROM while stopped, and ejects it', async () => {
    const { services } = cp;
    const r = await services.vms.create(scope, { name: 'with-iso', ...small });
    await done(Promise.resolve(r));
    const id = r.vm.id;
    const iso = `${dir}/blank.iso`;
    execFileSync('truncate', ['-s', '1M', iso]);
    await driver.reconfigure(id, { iso_path: iso });
    await done(services.vms.start(scope, id));
    const blocks = await driver.qmp<{ device: string; inserted?: { file: string } }[]>(id, 'query-block');
    expect(blocks.find((b) => b.inserted?.file === iso)).toBeDefined();
    await expect(driver.reconfigure(id, { iso_path: null })).rejects.toThrow(/stopped/);
    await done(services.vms.force_stop(scope, id));
    await driver.reconfigure(id, { iso_path: null });
    expect(JSON.parse(await readFile(`${files(id).dir}/domain.json`, 'utf8')).iso_path).toBeNull();
    await done(services.vms.delete(scope, id));
  }, 120_000);

  it('picks KVM on auto only where a KVM guest really boots', async () => {
    const choice = await chooseAccel('auto', 'qemu-system-x86_64');
    if (choice.accel === 'tcg') {
      // This machine's /dev/kvm (if any) was judged unable to run guests; the reason says why.
      expect(choice.reason).toMatch(/kvm/i);
      return;
    }
    const kvm = new QemuDriver({ root: `${dir}/kvm`, accel: 'auto', boot: testGuest() });
    const id = '6f1f3c3e-0000-4000-8000-00000000c0de';
    await kvm.define({
      vm_id: id,
      name: 'kvm-probe',
      ...small,
      os_type: 'linux',
      network: { type: 'nat', bridge_name: null, mac_address: null, ip_address: null },
      vnc_enabled: false,
    });
    await kvm.start(id);
    try {
      await waitForText(`${dir}/kvm/${id}/console.log`, UP, { timeout_ms: 20_000 });
    } finally {
      await kvm.undefine(id, { delete_disks: true });
      await kvm.close();
    }
  }, 60_000);

  it('makes a VM from a downloaded qcow2 image with a downloaded ISO in its CD-ROM drive', async () => {
    const { services } = cp;
    const base = `${dir}/base.qcow2`;
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', base, '512M']);
    const iso = Buffer.concat([Buffer.alloc(32769), Buffer.from('CD001'), Buffer.alloc(2042)]);
    const files = await serveFiles({ '/base.qcow2': { body: await readFile(base) }, '/boot.iso': { body: iso } });
    try {
      const disk = (await services.images.register(scope, { url: `${files.url}/base.qcow2` })).image;
      const r = await services.vms.create(scope, {
        name: 'from-images',
        image_id: disk.id,
        iso_url: `${files.url}/boot.iso`,
        start: true,
        ...small,
      });
      await done(Promise.resolve(r));
      const vm = await services.vms.get(scope, r.vm.id);
      expect(await services.images.get(scope, disk.id)).toMatchObject({ status: 'ready', format: 'qcow2' });
      // The 512M image became the VM's 1 GB disk; the ISO is in the CD-ROM drive.
      expect((await new QemuImg().info(`${dir}/vms/${vm.id}/disk0.qcow2`)).virtual_size).toBe(2 ** 30);
      const blocks = await driver.qmp<{ device: string; removable: boolean; inserted?: { file: string } }[]>(vm.id, 'query-block');
      expect(blocks.find((b) => b.removable)?.inserted?.file).toBe(cp.images.pathOf(vm.iso_image_id!));
      await done(services.vms.delete(scope, vm.id));
    } finally {
      await files.close();
    }
  }, 120_000);
});
