import { describe, expect, it } from 'vitest';
import { memoryFromName, parsePciIds, pciIds } from '../../src/drivers/gpus/pci-ids.js';

// The database's format, read from an excerpt written the way pci.ids writes it.
const EXCERPT = [
  '#',
  "#\tList of PCI ID's",
  '#',
  '# Vendors, devices and subsystems. Please keep sorted.',
  '',
  '10de  NVIDIA Corporation',
  '\t20b0  GA100 [A100 SXM4 40GB]',
  '\t\t10de 1450  A100-SXM4-40GB',
  '\t20b5  GA100 [A100 PCIe 80GB]',
  '1002  Advanced Micro Devices, Inc. [AMD/ATI]',
  '\t740f  Aldebaran/MI200 [Instinct MI210]',
  '# Comments may sit anywhere.',
  '\t\t1002 0c34  Aldebaran/MI200 [Instinct MI210]',
  '',
  '# List of known device classes, subclasses and programming interfaces',
  'C 03  Display controller',
  '\t00  VGA compatible controller',
  '\t02  3D controller',
  'C 04  Multimedia controller',
  '\t03  Audio device',
  '',
].join('\n');

describe('parsePciIds', () => {
  const ids = parsePciIds(EXCERPT, 'excerpt');

  it('names vendors and their devices, whatever case or 0x the ids come in', () => {
    expect(ids.lookup('0x10de', '0x20b0')).toEqual({ vendor: 'NVIDIA Corporation', model: 'GA100 [A100 SXM4 40GB]' });
    expect(ids.lookup('10DE', '20B5')).toEqual({ vendor: 'NVIDIA Corporation', model: 'GA100 [A100 PCIe 80GB]' });
    expect(ids.lookup('0x1002', '0x740f')).toEqual({
      vendor: 'Advanced Micro Devices, Inc. [AMD/ATI]',
      model: 'Aldebaran/MI200 [Instinct MI210]',
    });
    expect(ids.source).toBe('excerpt');
  });

  it('takes subsystem lines for no device, and a device only under its own vendor', () => {
    // "10de 1450" is a subsystem of 20b0: no device 1450, and no vendor 10de's devices under it.
    expect(ids.lookup('0x10de', '0x1450')).toEqual({ vendor: 'NVIDIA Corporation', model: null });
    expect(ids.lookup('0x1002', '0x20b0')).toEqual({ vendor: 'Advanced Micro Devices, Inc. [AMD/ATI]', model: null });
    expect(ids.lookup('0x1002', '0x0c34')).toEqual({ vendor: 'Advanced Micro Devices, Inc. [AMD/ATI]', model: null });
  });

  it('ignores the class section: its "03" and "02" are no vendor or device', () => {
    expect(ids.lookup('0x0003', '0x0002')).toEqual({ vendor: null, model: null });
    expect(ids.lookup('0x1002', '0x0003')).toEqual({ vendor: 'Advanced Micro Devices, Inc. [AMD/ATI]', model: null });
  });

  it('gives null names without a database', () => {
    const none = pciIds(['/nonexistent/pci.ids']);
    expect(none.source).toBeNull();
    expect(none.lookup('0x10de', '0x20b0')).toEqual({ vendor: null, model: null });
  });

  it("reads the host's database (the pci.ids package)", () => {
    const host = pciIds(['/nonexistent/pci.ids', '/usr/share/misc/pci.ids']);
    expect(host.source).toBe('/usr/share/misc/pci.ids');
    expect(host.lookup('0x1002', '0x740f').model).toBe('Aldebaran/MI200 [Instinct MI210]');
  });
});

describe('memoryFromName', () => {
  it('reads the memory a model name states, in MiB', () => {
    expect(memoryFromName('GA100 [A100 SXM4 40GB]')).toBe(40960);
    expect(memoryFromName('GH100[H100 SXM5 80GB]')).toBe(81920);
    expect(memoryFromName('GV100GL [Tesla V100 PCIe 32 GB]')).toBe(32768);
  });

  it('says nothing where the name does not', () => {
    expect(memoryFromName('TU104GL [Tesla T4]')).toBeNull();
    expect(memoryFromName('Aldebaran/MI200 [Instinct MI210]')).toBeNull();
    expect(memoryFromName(null)).toBeNull();
  });
});
