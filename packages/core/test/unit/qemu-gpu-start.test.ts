import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type DomainSpec, DriverError, GpuPreflightError } from '../../src/drivers/driver.js';
import { qemuDefinition } from '../../src/drivers/qemu/definition.js';
import { readRecord } from '../../src/drivers/qemu/domain-record.js';
import { QemuDriver } from '../../src/drivers/qemu/driver.js';
import { vmLayout } from '../../src/drivers/qemu/layout.js';
import { FIXTURE_ADDRESSES as A, buildSysfsFixture, type SysfsFixtureOptions } from '../../src/testing/sysfs-fixture.js';

// The QEMU driver's side of passthrough, with stand-ins for qemu and qemu-img that write down
// how they were started: the record keeps the assignments, a start checks them before
// spawning anything and spawns QEMU with their devices, on their node's CPUs.

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

const FAKE_QEMU = `#!/bin/sh
[ "$1" = --version ] && { echo 'QEMU emulator version 0 (stand-in)'; exit 0; }
printf '%s\\n' "$@" > argv.txt
grep Cpus_allowed_list: /proc/$$/status > affinity.txt
exit 3
`;
const FAKE_QEMU_IMG = `#!/bin/sh
[ "$1" = --version ] && exit 0
[ "$1" = create ] && : > "$5"
exit 0
`;

async function setup(fixture: SysfsFixtureOptions = {}, opts: { gpuRebind?: boolean } = {}) {
  const root = await mkdtemp(join(tmpdir(), 'hangar-qemu-gpu-'));
  dirs.push(root);
  const fx = await buildSysfsFixture(join(root, 'host'), fixture);
  // Node 1's CPUs as one this machine has, so the real taskset can pin to it.
  await writeFile(join(fx.sysfsRoot, 'devices/system/node/node1/cpulist'), '0\n');
  const bin = async (name: string, text: string) => {
    await writeFile(join(root, name), text);
    await chmod(join(root, name), 0o755);
    return join(root, name);
  };
  const driver = new QemuDriver({
    root: join(root, 'vms'),
    binary: await bin('qemu', FAKE_QEMU),
    qemuImg: await bin('qemu-img', FAKE_QEMU_IMG),
    accel: 'tcg',
    sysfsRoot: fx.sysfsRoot,
    devRoot: fx.devRoot,
    limitsPath: fx.limitsPath,
    statusPath: fx.statusPath,
    gpuRebind: opts.gpuRebind ?? false,
    startTimeoutMs: 5_000,
  });
  return { root, fx, driver };
}

const VM = '0b9a8c7d-6e5f-4a3b-9c2d-1e0f9a8b7c6d';
const spec = (over: Partial<DomainSpec> = {}): DomainSpec => ({
  vm_id: VM,
  name: 'gpu-vm',
  cpu_cores: 2,
  memory_mb: 1024,
  disk_gb: 1,
  os_type: 'linux',
  network: { type: 'nat', bridge_name: null, mac_address: '52:54:00:aa:bb:cc', ip_address: null },
  vnc_enabled: false,
  ...over,
});

describe('QEMU driver with GPUs', () => {
  it('keeps the assignments in its record: define stores them, reconfigure replaces them when given', async () => {
    const { root, driver } = await setup();
    const extra = { address: A.a100, numa_node: 1, model: 'not kept' } as { address: string; numa_node: number };
    await driver.define(spec({ gpus: [extra] }));
    const domain = vmLayout(join(root, 'vms'), VM).domain;
    expect((await readRecord(domain))?.gpus).toEqual([{ address: A.a100, numa_node: 1 }]);
    await driver.reconfigure(VM, { cpu_cores: 4 });
    expect((await readRecord(domain))?.gpus).toEqual([{ address: A.a100, numa_node: 1 }]);
    await driver.reconfigure(VM, { gpus: [{ address: A.mi210, numa_node: null }] });
    expect((await readRecord(domain))?.gpus).toEqual([{ address: A.mi210, numa_node: null }]);
    await driver.reconfigure(VM, { gpus: [] });
    expect((await readRecord(domain))?.gpus).toEqual([]);
    await driver.close();
  });

  it('refuses to start with a GPU that cannot be passed through, before spawning QEMU', async () => {
    const { root, driver } = await setup();
    await driver.define(spec({ gpus: [{ address: A.rtx3090, numa_node: 0 }] }));
    const err = await driver.start(VM).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GpuPreflightError);
    expect((err as GpuPreflightError).faults.map((f) => f.address)).toEqual([A.rtx3090]);
    await expect(readFile(join(vmLayout(join(root, 'vms'), VM).dir, 'argv.txt'))).rejects.toThrow(/ENOENT/);
    await driver.close();
  });

  it("checks the locked-memory limit against the record's memory, before spawning QEMU", async () => {
    const { root, driver } = await setup({ memlock: 1088 * 2 ** 20 });
    await driver.define(spec({ memory_mb: 1025, gpus: [{ address: A.a100, numa_node: 1 }] }));
    const err = await driver.start(VM).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DriverError);
    expect(err).not.toBeInstanceOf(GpuPreflightError);
    expect((err as Error).message).toMatch(/^GPU passthrough pins the VM's 1025 MiB of memory/);
    await expect(readFile(join(vmLayout(join(root, 'vms'), VM).dir, 'argv.txt'))).rejects.toThrow(/ENOENT/);
    await driver.close();
  });

  it("spawns QEMU with the GPU and its audio function, on the GPU's node's CPUs", async () => {
    const { root, driver } = await setup();
    await driver.define(spec({ gpus: [{ address: A.a100, numa_node: 1 }] }));
    // The stand-in exits at once: the start fails, having written down its argv and CPUs.
    await expect(driver.start(VM)).rejects.toThrow(/QEMU did not start \(exit code 3\)/);
    const dir = vmLayout(join(root, 'vms'), VM).dir;
    const argv = (await readFile(join(dir, 'argv.txt'), 'utf8')).trimEnd().split('\n');
    expect(argv.slice(-4)).toEqual([
      '-device',
      'vfio-pci,host=0000:3b:00.0,id=hostdev0',
      '-device',
      'vfio-pci,host=0000:3b:00.1,id=hostdev1',
    ]);
    expect(argv.slice(0, 2)).toEqual(['-name', `gpu-vm,process=qemu-${VM}`]);
    expect(await readFile(join(dir, 'affinity.txt'), 'utf8')).toBe('Cpus_allowed_list:\t0\n');
    await driver.close();
  });

  it('spawns QEMU without devices or pinning for a VM without GPUs', async () => {
    const { root, driver } = await setup();
    await driver.define(spec());
    await expect(driver.start(VM)).rejects.toThrow(/QEMU did not start/);
    const dir = vmLayout(join(root, 'vms'), VM).dir;
    expect(await readFile(join(dir, 'argv.txt'), 'utf8')).not.toContain('vfio-pci');
    expect(await readFile(join(dir, 'affinity.txt'), 'utf8')).toBe(
      `${(await readFile('/proc/self/status', 'utf8')).split('\n').find((l) => l.startsWith('Cpus_allowed_list:'))!}\n`,
    );
    await driver.close();
  });

  it('rebinds at start when the setting allows it', async () => {
    const { fx, driver } = await setup({}, { gpuRebind: true });
    await driver.define(spec({ gpus: [{ address: A.rtx3090, numa_node: 0 }] }));
    // The fixture's driver links stay: still refused, but the GPU was handed to vfio-pci.
    await expect(driver.start(VM)).rejects.toBeInstanceOf(GpuPreflightError);
    expect(await readFile(join(fx.sysfsRoot, 'bus/pci/devices', A.rtx3090, 'driver_override'), 'utf8')).toBe('vfio-pci');
    await driver.close();
  });
});

describe('HANGAR_QEMU_GPU_REBIND', () => {
  it('is off unless set, and only a boolean', () => {
    expect(qemuDefinition.settings.parse({}).HANGAR_QEMU_GPU_REBIND).toBe(false);
    expect(qemuDefinition.settings.parse({ HANGAR_QEMU_GPU_REBIND: 'true' }).HANGAR_QEMU_GPU_REBIND).toBe(true);
    expect(qemuDefinition.settings.parse({ HANGAR_QEMU_GPU_REBIND: 'false' }).HANGAR_QEMU_GPU_REBIND).toBe(false);
    expect(qemuDefinition.settings.safeParse({ HANGAR_QEMU_GPU_REBIND: 'sometimes' }).success).toBe(false);
  });

  it('reaches the driver: a GPU on a host driver counts as usable', async () => {
    const root = await mkdtemp(join(tmpdir(), 'hangar-qemu-def-'));
    dirs.push(root);
    const fx = await buildSysfsFixture(join(root, 'host'));
    const health = async (rebind: string) => {
      const settings = qemuDefinition.settings.parse({ HANGAR_SYSFS_ROOT: fx.sysfsRoot, HANGAR_QEMU_GPU_REBIND: rebind });
      const driver = await qemuDefinition.create(settings, { data_dir: join(root, `data-${rebind}`) });
      const gpus = (await driver.inventory()).gpus;
      await driver.close?.();
      return gpus.find((g) => g.address === A.rtx3090)?.health;
    };
    expect(await health('true')).toBe('healthy');
    expect(await health('false')).toBe('unhealthy');
  });
});
