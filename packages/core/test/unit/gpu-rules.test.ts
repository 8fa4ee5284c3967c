import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { canonicalGpuName, type GpuDevice, HostInventory, ListVmsQuery, requestWords } from '../../src/domain/index.js';
import { markBootDisplay } from '../../src/drivers/gpus/boot-display.js';
import { oneGpuPerGroup } from '../../src/drivers/gpus/shared-groups.js';
import { chooseGpus } from '../../src/scheduler/gpu-choice.js';

// The rules GPUs are matched, chosen and offered by, each on its own.

const gpu = (address: string, group: number | null, driver = 'vfio-pci'): GpuDevice => ({
  address,
  vendor_id: '0x10de',
  device_id: '0x20b0',
  vendor: 'NVIDIA Corporation',
  model: 'GA100 [A100 SXM4 40GB]',
  memory_mb: 40960,
  driver,
  iommu_group: group,
  numa_node: 0,
  health: 'healthy',
  health_reason: null,
});

describe('choosing GPUs on a host', () => {
  const free = (...nodes: (number | null)[]) => nodes.map((n, i) => ({ id: `g${i}`, address: `0000:${10 + i}:00.0`, numa_node: n }));

  it('takes them from one NUMA node, the one that fits most tightly', () => {
    expect(chooseGpus(free(0, 1, 1, 0, 0), 2)!.map((g) => g.id)).toEqual(['g1', 'g2']);
    expect(chooseGpus(free(0, 1, 1, 0, 0), 3)!.map((g) => g.id)).toEqual(['g0', 'g3', 'g4']);
    expect(chooseGpus(free(1, 0), 1)!.map((g) => g.id)).toEqual(['g1']);
  });

  it('spans as few nodes as it must when no node has enough, and refuses when the host has too few', () => {
    expect(chooseGpus(free(0, 1, 1, 2), 3)!.map((g) => g.id)).toEqual(['g1', 'g2', 'g0']);
    expect(chooseGpus(free(0, 1), 3)).toBeNull();
    expect(chooseGpus(free(0), 0)).toEqual([]);
  });
});

describe('matching names', () => {
  it('reads ids in any form as one word, and names as their words', () => {
    expect(requestWords('10DE:20b0')).toEqual(['10de:20b0']);
    expect(requestWords('0x10de:0x20b0')).toEqual(['10de:20b0']);
    expect(requestWords('0x10de')).toEqual(['10de']);
    expect(requestWords('H100 80GB')).toEqual(['h100', '80gb']);
    expect(canonicalGpuName(' 0x10DE:0x2330 ')).toBe('10de:2330');
    expect(canonicalGpuName('A100')).toBe('A100');
  });

  it('refuses a list filter with no word in it (it would match every VM)', () => {
    expect(ListVmsQuery.safeParse({ gpu_model: '-' }).success).toBe(false);
    expect(ListVmsQuery.safeParse({ gpu_model: 'A100' }).success).toBe(true);
  });
});

describe('what a host offers', () => {
  it('lists each GPU address once in an inventory (a host reporting one twice is refused)', () => {
    const capacity = { cpus: 1, memory_mb: 1, disk_gb: 1 };
    expect(HostInventory.safeParse({ capacity, gpus: [gpu('0000:10:00.0', 1), gpu('0000:10:00.0', 1)] }).success).toBe(false);
    expect(HostInventory.safeParse({ capacity, gpus: [gpu('0000:10:00.0', 1), gpu('0000:11:00.0', 2)] }).success).toBe(true);
  });

  it('offers one GPU per IOMMU group: the others of the group are unhealthy, saying why', () => {
    const out = oneGpuPerGroup([gpu('0000:c1:00.0', 9), gpu('0000:c0:00.0', 9), gpu('0000:d0:00.0', 10), gpu('0000:e0:00.0', null)]);
    expect(out.map((g) => [g.address, g.health, g.health_reason])).toEqual([
      ['0000:c0:00.0', 'healthy', null],
      [
        '0000:c1:00.0',
        'unhealthy',
        'shares IOMMU group 9 with the GPU 0000:c0:00.0: a group goes to one VM, so only 0000:c0:00.0 is offered',
      ],
      ['0000:d0:00.0', 'healthy', null],
      ['0000:e0:00.0', 'healthy', null],
    ]);
  });

  it("never offers the host's boot display while a host driver holds it", async () => {
    const sysfs = await mkdtemp(join(tmpdir(), 'hangar-bootvga-'));
    try {
      for (const [address, flag] of [
        ['0000:03:00.0', '1'],
        ['0000:3b:00.0', '0'],
        ['0000:5e:00.0', '1'],
      ] as const) {
        await mkdir(join(sysfs, 'bus/pci/devices', address), { recursive: true });
        await writeFile(join(sysfs, 'bus/pci/devices', address, 'boot_vga'), `${flag}\n`);
      }
      const out = await markBootDisplay([gpu('0000:03:00.0', 1, 'ast'), gpu('0000:3b:00.0', 2, 'nvidia'), gpu('0000:5e:00.0', 3)], sysfs);
      expect(out.map((g) => [g.address, g.health_reason ?? g.health])).toEqual([
        ['0000:03:00.0', "0000:03:00.0 is the host's boot display (ast): Hangar does not take it from the host; pass through another GPU"],
        ['0000:3b:00.0', 'healthy'],
        // Bound to vfio-pci by its operator: theirs to give.
        ['0000:5e:00.0', 'healthy'],
      ]);
    } finally {
      await rm(sysfs, { recursive: true, force: true });
    }
  });
});
