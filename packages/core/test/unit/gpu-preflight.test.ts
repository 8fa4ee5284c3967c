import { mkdtemp, readFile, readlink, rm, symlink, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DriverError, GpuPreflightError } from '../../src/drivers/driver.js';
import { gpuNodeCpus, nodeCpus } from '../../src/drivers/gpus/numa.js';
import { type PreflightOptions, preflightGpus } from '../../src/drivers/gpus/preflight.js';
import { rebindToVfio, type SysfsWrite } from '../../src/drivers/gpus/rebind.js';
import { scanGpus } from '../../src/drivers/gpus/sysfs-scan.js';
import { FIXTURE_ADDRESSES as A, buildSysfsFixture, type SysfsFixture, type SysfsFixtureOptions } from '../../src/testing/sysfs-fixture.js';

// Each check of passthrough against a fixture host (the kernel's layout, every case on one
// machine): the sentence a start fails with, and what QEMU is given when nothing fails.

const REBIND = 'bind it to vfio-pci (or let Hangar rebind: HANGAR_QEMU_GPU_REBIND=true)';
const NVIDIA_3090 = `0000:5e:00.0 is bound to nvidia, not vfio-pci: ${REBIND}`;
const AUDIO_3090 = `0000:5e:00.1, passed through with 0000:5e:00.0 (a function of the same card, IOMMU group 17), is bound to snd_hda_intel, not vfio-pci: ${REBIND}`;
const NVIDIA_T4 = `0000:af:00.0 is bound to nvidia, not vfio-pci: ${REBIND}`;
const FOREIGN_T4 =
  '0000:af:00.0 shares IOMMU group 9 with 0000:b0:00.0, which the host uses (bound to e1000e): the group goes to QEMU whole; ' +
  'unbind 0000:b0:00.0 from e1000e, or move the GPU to a slot with its own IOMMU group';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

/** A host of its own per test: tests change it. */
async function host(opts: SysfsFixtureOptions = {}): Promise<SysfsFixture> {
  const root = await mkdtemp(join(tmpdir(), 'hangar-gpu-'));
  dirs.push(root);
  return buildSysfsFixture(root, opts);
}

const optsOf = (fx: SysfsFixture, over: Partial<PreflightOptions> = {}): PreflightOptions => ({
  sysfsRoot: fx.sysfsRoot,
  devRoot: fx.devRoot,
  limitsPath: fx.limitsPath,
  statusPath: fx.statusPath,
  memory_mb: 1024,
  rebind: false,
  ...over,
});

const gpu = (address: string, numa_node: number | null = null) => ({ address, numa_node });

/** The faults a refused preflight names, or the addresses when it passes. */
async function outcome(fx: SysfsFixture, addresses: string[], over: Partial<PreflightOptions> = {}) {
  try {
    return {
      passthrough: await preflightGpus(
        addresses.map((a) => gpu(a)),
        optsOf(fx, over),
      ),
    };
  } catch (err) {
    if (err instanceof GpuPreflightError) return { faults: err.faults };
    throw err;
  }
}

const attr = (fx: SysfsFixture, address: string, name: string) => readFile(join(fx.sysfsRoot, 'bus/pci/devices', address, name), 'utf8');
const driverFile = (fx: SysfsFixture, driver: string, name: string) =>
  readFile(join(fx.sysfsRoot, 'bus/pci/drivers', driver, name), 'utf8');

/**
 * The kernel's side of a rebind in a fixture tree: a probe binds a device whose override names
 * vfio-pci to it, and its group's /dev/vfio/N appears.
 */
const kernel =
  (fx: SysfsFixture): SysfsWrite =>
  async (path, value) => {
    await writeFile(path, value);
    if (!path.endsWith('/drivers_probe')) return;
    const dev = join(fx.sysfsRoot, 'bus/pci/devices', value);
    if ((await readFile(join(dev, 'driver_override'), 'utf8')) !== 'vfio-pci') return;
    await rm(join(dev, 'driver'), { force: true });
    await symlink(join(fx.sysfsRoot, 'bus/pci/drivers/vfio-pci'), join(dev, 'driver'));
    await writeFile(join(fx.devRoot, 'vfio', basename(await readlink(join(dev, 'iommu_group')))), '');
  };

describe('preflightGpus: what QEMU is given', () => {
  it('passes a GPU on vfio-pci with the other function of its card (its audio)', async () => {
    const fx = await host();
    expect(await outcome(fx, [A.a100])).toEqual({ passthrough: ['0000:3b:00.0', '0000:3b:00.1'] });
  });

  it('leaves a PCI bridge of the group with the host and passes the GPU alone', async () => {
    const fx = await host();
    expect(await outcome(fx, [A.mi210])).toEqual({ passthrough: ['0000:86:00.0'] });
  });

  it('passes two GPUs, each followed by its companions, each address once', async () => {
    const fx = await host();
    expect(await outcome(fx, [A.mi210, A.a100, A.a100])).toEqual({ passthrough: ['0000:86:00.0', '0000:3b:00.0', '0000:3b:00.1'] });
  });

  it('has nothing to check without GPUs, not even the memory limit', async () => {
    const fx = await host({ memlock: 65536 });
    expect(await preflightGpus([], optsOf(fx))).toEqual([]);
  });

  it('lets an idle device of another slot share the group: not passed, not a fault', async () => {
    const fx = await host();
    // The NIC without a driver: the group is viable, and the NIC is no function of the T4's card.
    await unlink(join(fx.sysfsRoot, 'bus/pci/devices', A.nic, 'driver'));
    expect(await outcome(fx, [A.t4])).toEqual({ faults: [{ address: A.t4, reason: NVIDIA_T4 }] });
    await writeFile(join(fx.devRoot, 'vfio/9'), '');
    await unlink(join(fx.sysfsRoot, 'bus/pci/devices', A.t4, 'driver'));
    expect((await outcome(fx, [A.t4])).faults![0]!.reason).toBe(`0000:af:00.0 is bound to no driver, not vfio-pci: ${REBIND}`);
  });
});

describe('preflightGpus: each refusal and its reason', () => {
  it('refuses a GPU on a host driver, and its audio function on another', async () => {
    const fx = await host();
    const err = await preflightGpus([gpu(A.rtx3090, 0)], optsOf(fx)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GpuPreflightError);
    expect((err as GpuPreflightError).faults).toEqual([{ address: A.rtx3090, reason: `${NVIDIA_3090}; ${AUDIO_3090}` }]);
    expect((err as GpuPreflightError).message).toBe(`GPU preflight failed: 0000:5e:00.0: ${NVIDIA_3090}; ${AUDIO_3090}`);
  });

  it('refuses a companion function without a driver: QEMU can only open it through vfio-pci', async () => {
    const fx = await host();
    await unlink(join(fx.sysfsRoot, 'bus/pci/devices', A.a100Audio, 'driver'));
    expect(await outcome(fx, [A.a100])).toEqual({
      faults: [
        {
          address: A.a100,
          reason: `0000:3b:00.1, passed through with 0000:3b:00.0 (a function of the same card, IOMMU group 42), is bound to no driver, not vfio-pci: ${REBIND}`,
        },
      ],
    });
  });

  it('refuses a GPU whose IOMMU group holds a device the host uses', async () => {
    const fx = await host();
    expect(await outcome(fx, [A.t4])).toEqual({ faults: [{ address: A.t4, reason: `${NVIDIA_T4}; ${FOREIGN_T4}` }] });
  });

  it('counts only PCI-to-PCI bridges (0x0604xx) as bridges: an ISA bridge on a host driver keeps the group', async () => {
    const fx = await host();
    await writeFile(join(fx.sysfsRoot, 'bus/pci/devices', A.nic, 'class'), '0x060100\n');
    expect(await outcome(fx, [A.t4])).toEqual({ faults: [{ address: A.t4, reason: `${NVIDIA_T4}; ${FOREIGN_T4}` }] });
  });

  it("refuses the host's boot display", async () => {
    const fx = await host();
    expect(await outcome(fx, [A.bootVga])).toEqual({
      faults: [
        {
          address: A.bootVga,
          reason: "0000:02:00.0 is the host's boot display (ast): Hangar does not take it from the host; pass through another GPU",
        },
      ],
    });
  });

  it('refuses every GPU on a host without an IOMMU', async () => {
    const fx = await host({ iommu: false });
    const reason = (a: string) =>
      `${a} cannot be passed through: the IOMMU is off (${fx.sysfsRoot}/kernel/iommu_groups is empty); ` +
      'turn on VT-d or AMD-Vi in the firmware and boot with intel_iommu=on (Intel) or amd_iommu=on (AMD)';
    expect(await outcome(fx, [A.a100, A.mi210])).toEqual({
      faults: [
        { address: A.a100, reason: reason(A.a100) },
        { address: A.mi210, reason: reason(A.mi210) },
      ],
    });
  });

  it('refuses a GPU outside every IOMMU group', async () => {
    const fx = await host();
    await unlink(join(fx.sysfsRoot, 'bus/pci/devices', A.a100, 'iommu_group'));
    expect(await outcome(fx, [A.a100])).toEqual({
      faults: [
        {
          address: A.a100,
          reason: '0000:3b:00.0 has no IOMMU group although the IOMMU is on: the IOMMU does not cover its slot; check dmesg for why',
        },
      ],
    });
  });

  it('refuses a group on vfio-pci without its /dev/vfio/N', async () => {
    const fx = await host();
    await unlink(join(fx.devRoot, 'vfio/7'));
    expect(await outcome(fx, [A.mi210])).toEqual({
      faults: [
        {
          address: A.mi210,
          reason:
            `${fx.devRoot}/vfio/7 does not exist although 0000:86:00.0's IOMMU group 7 is on vfio-pci: ` +
            'load the vfio modules (modprobe vfio-pci) and check that udev creates /dev/vfio',
        },
      ],
    });
  });

  it('refuses a GPU the host does not have', async () => {
    const fx = await host();
    expect(await outcome(fx, ['0000:ff:00.0'])).toEqual({
      faults: [
        {
          address: '0000:ff:00.0',
          reason: `0000:ff:00.0 is not a PCI device of this host (no ${fx.sysfsRoot}/bus/pci/devices/0000:ff:00.0): it was removed or the address is wrong`,
        },
      ],
    });
  });

  it('names only the GPUs that fail, one fault each', async () => {
    const fx = await host();
    const { faults } = await outcome(fx, [A.a100, A.rtx3090, A.mi210, A.t4]);
    expect(faults?.map((f) => f.address)).toEqual([A.rtx3090, A.t4]);
  });

  it('refuses an address that is not one before it reaches a path', async () => {
    const fx = await host();
    for (const bad of ['../../../kernel', '0000:3b:00.0/../../x', '0000:3B:00.0', '']) {
      const err = await preflightGpus([gpu(bad)], optsOf(fx, { rebind: true })).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DriverError);
      expect(err).not.toBeInstanceOf(GpuPreflightError);
      expect((err as Error).message).toBe(`refusing GPU address ${JSON.stringify(bad)}: not a PCI address like 0000:3b:00.0`);
    }
    expect(await readFile(join(fx.sysfsRoot, 'bus/pci/drivers_probe'), 'utf8')).toBe('');
  });
});

describe('preflightGpus: locked memory', () => {
  const limitReason = (fx: SysfsFixture, limit: number) =>
    `GPU passthrough pins the VM's 1024 MiB of memory, but the locked-memory limit Hangar passes to QEMU is ${limit} bytes ` +
    `("Max locked memory" in ${fx.limitsPath}): raise it to at least 1088 MiB or unlimited ` +
    '(LimitMEMLOCK=infinity in the systemd unit, ulimit -l unlimited in a shell, memlock in /etc/security/limits.conf)';

  it('refuses a limit below the guest memory and its slack, as a host problem and not a GPU fault', async () => {
    const fx = await host({ memlock: 8 * 2 ** 20 });
    const err = await preflightGpus([gpu(A.a100)], optsOf(fx)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DriverError);
    expect(err).not.toBeInstanceOf(GpuPreflightError);
    expect((err as DriverError).kind).toBe('failed');
    expect((err as Error).message).toBe(limitReason(fx, 8 * 2 ** 20));
  });

  it('counts the slack to the byte', async () => {
    const enough = (1024 + 64) * 2 ** 20;
    expect(await preflightGpus([gpu(A.a100)], optsOf(await host({ memlock: enough })))).toEqual([A.a100, A.a100Audio]);
    const fx = await host({ memlock: enough - 1 });
    await expect(preflightGpus([gpu(A.a100)], optsOf(fx))).rejects.toThrow(limitReason(fx, enough - 1));
  });

  it('takes unlimited as enough', async () => {
    expect(await preflightGpus([gpu(A.a100)], optsOf(await host({ memlock: 'unlimited' }), { memory_mb: 1_048_576 }))).toEqual([
      A.a100,
      A.a100Audio,
    ]);
  });

  it('lets root through whatever the limit: its QEMU holds CAP_IPC_LOCK', async () => {
    expect(await preflightGpus([gpu(A.a100)], optsOf(await host({ memlock: 65536, uid: 0 })))).toEqual([A.a100, A.a100Audio]);
  });

  it('lets through a process whose ambient capabilities hold CAP_IPC_LOCK (bit 14), and no other bit', async () => {
    const fx = await host({ memlock: 65536 });
    const ambient = async (mask: string) =>
      writeFile(fx.statusPath, (await readFile(fx.statusPath, 'utf8')).replace(/^CapAmb:.*$/m, `CapAmb:\t${mask}`));
    await ambient('0000000000004000');
    expect(await preflightGpus([gpu(A.a100)], optsOf(fx))).toEqual([A.a100, A.a100Audio]);
    await ambient('000001ffffffbfff');
    await expect(preflightGpus([gpu(A.a100)], optsOf(fx))).rejects.toThrow(limitReason(fx, 65536));
  });

  it('reads the soft limit, the one QEMU runs under', async () => {
    const fx = await host();
    await writeFile(
      fx.limitsPath,
      'Limit                     Soft Limit           Hard Limit           Units     \n' +
        'Max locked memory         8388608              unlimited            bytes     \n',
    );
    await expect(preflightGpus([gpu(A.a100)], optsOf(fx))).rejects.toThrow(limitReason(fx, 8388608));
  });

  it('reports the GPUs first when both are wrong', async () => {
    const fx = await host({ memlock: 65536 });
    await expect(preflightGpus([gpu(A.rtx3090)], optsOf(fx))).rejects.toBeInstanceOf(GpuPreflightError);
  });
});

describe('rebinding to vfio-pci', () => {
  it('writes what the kernel expects, in its order, for the GPU and its audio, and skips what is on vfio-pci', async () => {
    const fx = await host();
    const writes: [string, string][] = [];
    await rebindToVfio(fx.sysfsRoot, [A.a100, A.rtx3090, A.rtx3090Audio, A.hostBridge], async (path, value) => {
      writes.push([path.slice(fx.sysfsRoot.length), value]);
    });
    expect(writes).toEqual([
      ['/bus/pci/devices/0000:5e:00.0/driver_override', 'vfio-pci'],
      ['/bus/pci/devices/0000:5e:00.0/driver/unbind', '0000:5e:00.0'],
      ['/bus/pci/drivers_probe', '0000:5e:00.0'],
      ['/bus/pci/devices/0000:5e:00.1/driver_override', 'vfio-pci'],
      ['/bus/pci/devices/0000:5e:00.1/driver/unbind', '0000:5e:00.1'],
      ['/bus/pci/drivers_probe', '0000:5e:00.1'],
      // No driver to let go of it: no unbind.
      ['/bus/pci/devices/0000:00:00.0/driver_override', 'vfio-pci'],
      ['/bus/pci/drivers_probe', '0000:00:00.0'],
    ]);
  });

  it('rebinds the GPU and its audio at a start that may, then checks again', async () => {
    const fx = await host();
    // The fixture's links do not follow the writes as the kernel's would: the fault stays, the writes are there.
    expect(await outcome(fx, [A.rtx3090], { rebind: true })).toEqual({
      faults: [{ address: A.rtx3090, reason: `${NVIDIA_3090}; ${AUDIO_3090}` }],
    });
    expect(await attr(fx, A.rtx3090, 'driver_override')).toBe('vfio-pci');
    expect(await attr(fx, A.rtx3090Audio, 'driver_override')).toBe('vfio-pci');
    expect(await driverFile(fx, 'nvidia', 'unbind')).toBe('0000:5e:00.0');
    expect(await driverFile(fx, 'snd_hda_intel', 'unbind')).toBe('0000:5e:00.1');
    expect(await readFile(join(fx.sysfsRoot, 'bus/pci/drivers_probe'), 'utf8')).toBe('0000:5e:00.1');
  });

  it('passes the GPU and its audio once the rebind has put them on vfio-pci', async () => {
    const fx = await host();
    expect(await outcome(fx, [A.rtx3090], { rebind: true, write: kernel(fx) })).toEqual({ passthrough: [A.rtx3090, A.rtx3090Audio] });
    const scanned = (await scanGpus(fx.sysfsRoot, { devRoot: fx.devRoot })).find((g) => g.address === A.rtx3090);
    expect([scanned?.driver, scanned?.health]).toEqual(['vfio-pci', 'healthy']);
  });

  it('rebinds nothing when not allowed', async () => {
    const fx = await host();
    await outcome(fx, [A.rtx3090]);
    expect(await attr(fx, A.rtx3090, 'driver_override')).toBe('(null)\n');
    expect(await driverFile(fx, 'nvidia', 'unbind')).toBe('');
    expect(await readFile(join(fx.sysfsRoot, 'bus/pci/drivers_probe'), 'utf8')).toBe('');
  });

  it('never touches a group the host holds: neither its foreign device nor the GPU', async () => {
    const fx = await host();
    expect(await outcome(fx, [A.t4], { rebind: true })).toEqual({ faults: [{ address: A.t4, reason: `${NVIDIA_T4}; ${FOREIGN_T4}` }] });
    expect(await attr(fx, A.nic, 'driver_override')).toBe('(null)\n');
    expect(await attr(fx, A.t4, 'driver_override')).toBe('(null)\n');
    expect(await driverFile(fx, 'e1000e', 'unbind')).toBe('');
    expect(await driverFile(fx, 'nvidia', 'unbind')).toBe('');
    expect(await readFile(join(fx.sysfsRoot, 'bus/pci/drivers_probe'), 'utf8')).toBe('');
  });

  it('rebinds the GPU but not an idle device of another slot in its group', async () => {
    const fx = await host();
    await unlink(join(fx.sysfsRoot, 'bus/pci/devices', A.nic, 'driver'));
    await outcome(fx, [A.t4], { rebind: true });
    expect(await attr(fx, A.t4, 'driver_override')).toBe('vfio-pci');
    expect(await attr(fx, A.nic, 'driver_override')).toBe('(null)\n');
  });

  it('says which write failed and why', async () => {
    const fx = await host();
    const denied = async () => {
      throw Object.assign(new Error('permission denied'), { code: 'EACCES' });
    };
    await expect(rebindToVfio(fx.sysfsRoot, [A.rtx3090], denied)).rejects.toThrow(
      `cannot rebind 0000:5e:00.0 to vfio-pci: writing vfio-pci to ${fx.sysfsRoot}/bus/pci/devices/0000:5e:00.0/driver_override failed (EACCES); rebinding needs root`,
    );
  });
});

describe('NUMA', () => {
  it("reads a node's CPUs", async () => {
    const fx = await host();
    expect(await nodeCpus(fx.sysfsRoot, 0)).toBe('0-7,16-23');
    expect(await nodeCpus(fx.sysfsRoot, 1)).toBe('8-15,24-31');
    expect(await nodeCpus(fx.sysfsRoot, 2)).toBeNull();
  });

  it('refuses what is not a CPU list (an empty node, junk)', async () => {
    const fx = await host();
    for (const junk of ['', '-a', '0-3 --help', '1,,2']) {
      await writeFile(join(fx.sysfsRoot, 'devices/system/node/node1/cpulist'), `${junk}\n`);
      expect(await nodeCpus(fx.sysfsRoot, 1)).toBeNull();
    }
  });

  it("pins to the GPUs' node only when they share one known node", async () => {
    const fx = await host();
    expect(await gpuNodeCpus(fx.sysfsRoot, [gpu(A.a100, 1), gpu(A.t4, 1)])).toBe('8-15,24-31');
    expect(await gpuNodeCpus(fx.sysfsRoot, [gpu(A.rtx3090, 0)])).toBe('0-7,16-23');
    expect(await gpuNodeCpus(fx.sysfsRoot, [gpu(A.a100, 1), gpu(A.rtx3090, 0)])).toBeNull();
    expect(await gpuNodeCpus(fx.sysfsRoot, [gpu(A.mi210, null)])).toBeNull();
    expect(await gpuNodeCpus(fx.sysfsRoot, [gpu(A.a100, 1), gpu(A.mi210, null)])).toBeNull();
    expect(await gpuNodeCpus(fx.sysfsRoot, [])).toBeNull();
  });
});
