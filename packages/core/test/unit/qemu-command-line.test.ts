import { describe, expect, it } from 'vitest';
import { launchArgv, qemuArgs } from '../../src/drivers/qemu/command-line.js';
import type { DomainRecord } from '../../src/drivers/qemu/domain-record.js';
import { vmLayout } from '../../src/drivers/qemu/layout.js';

// The command-line builder alone (no QEMU, no database): whatever a name, path or bridge holds,
// it stays one value of its option.

/** QEMU's reading of an option string: commas split, a doubled comma is a literal one. */
function parseOptions(s: string): string[] {
  const parts: string[] = [];
  let cur = '';
  for (let i = 0; i < s.length; i++) {
    if (s[i] === ',' && s[i + 1] === ',') {
      cur += ',';
      i++;
    } else if (s[i] === ',') {
      parts.push(cur);
      cur = '';
    } else cur += s[i];
  }
  parts.push(cur);
  return parts;
}

const keysOf = (s: string) => parseOptions(s).map((p) => p.split('=')[0]);
const valueIn = (s: string, key: string) =>
  parseOptions(s)
    .find((p) => p.startsWith(`${key}=`))
    ?.slice(key.length + 1);

const HOSTILE = ['x,helper=sh -c id>out', 'a,,b', ',', 'disk,file=/etc/shadow', 'br0,script=/tmp/evil', '=,=,'];

function record(over: Partial<DomainRecord> = {}): DomainRecord {
  return {
    vm_id: '6c7e3b27-7159-4e0a-9e30-3d44284574cd',
    name: 'web-1',
    cpu_cores: 1,
    memory_mb: 256,
    disk_gb: 1,
    network: { type: 'nat', bridge_name: null, mac_address: '52:54:00:12:34:56' },
    vnc: false,
    iso_path: null,
    created_at: new Date(0).toISOString(),
    ...over,
  };
}

const argAfter = (args: string[], flag: string, nth = 0) => args.filter((_, i) => args[i - 1] === flag)[nth]!;

describe('qemuArgs', () => {
  for (const hostile of HOSTILE) {
    it(`keeps ${JSON.stringify(hostile)} one value wherever it goes`, () => {
      const files = vmLayout(`/var/lib/hangar/${hostile}/vms`, '6c7e3b27-7159-4e0a-9e30-3d44284574cd');
      const args = qemuArgs(
        record({
          name: hostile,
          network: { type: 'bridge', bridge_name: hostile, mac_address: '52:54:00:12:34:56' },
          iso_path: `/images/${hostile}.iso`,
          vnc: true,
        }),
        files,
        { accel: 'tcg' },
      );
      const netdev = argAfter(args, '-netdev');
      expect(keysOf(netdev)).toEqual(['bridge', 'id', 'br']);
      expect(valueIn(netdev, 'br')).toBe(hostile);
      const [disk, cdrom] = [argAfter(args, '-drive', 0), argAfter(args, '-drive', 1)];
      expect(keysOf(disk)).toEqual(['file', 'if', 'id', 'format', 'cache']);
      expect(valueIn(disk, 'file')).toBe(files.disk);
      expect(keysOf(cdrom)).toEqual(['file', 'if', 'id', 'media', 'readonly', 'format']);
      expect(valueIn(cdrom, 'file')).toBe(`/images/${hostile}.iso`);
      const [qmp, serial] = [argAfter(args, '-chardev', 0), argAfter(args, '-chardev', 1)];
      expect(keysOf(qmp)).toEqual(['socket', 'id', 'path', 'server', 'wait']);
      expect(keysOf(serial)).toEqual(['socket', 'id', 'path', 'server', 'wait', 'logfile', 'logappend']);
      expect(valueIn(serial, 'logfile')).toBe(files.console);
      expect(parseOptions(argAfter(args, '-vnc'))).toEqual([`unix:${files.vnc}`]);
      const name = parseOptions(argAfter(args, '-name'));
      expect(name).toEqual([hostile, 'process=qemu-6c7e3b27-7159-4e0a-9e30-3d44284574cd']);
    });
  }

  it('refuses control characters in any value', () => {
    for (const bad of ['a\nb', 'x\u0000', 'tab\there']) {
      expect(() => qemuArgs(record({ name: bad }), vmLayout('/v', 'id'), { accel: 'tcg' })).toThrow(/control characters/);
    }
  });

  it('ends with the VFIO devices of the preflight, in its order, one id each', () => {
    const files = vmLayout('/var/lib/hangar/vms', '6c7e3b27-7159-4e0a-9e30-3d44284574cd');
    const plain = qemuArgs(record(), files, { accel: 'kvm' });
    const one = qemuArgs(record(), files, { accel: 'kvm', hostdevs: ['0000:3b:00.0', '0000:3b:00.1'] });
    expect(one).toEqual([
      ...plain,
      '-device',
      'vfio-pci,host=0000:3b:00.0,id=hostdev0',
      '-device',
      'vfio-pci,host=0000:3b:00.1,id=hostdev1',
    ]);
    const two = qemuArgs(record(), files, { accel: 'kvm', hostdevs: ['0000:3b:00.0', '0000:3b:00.1', '0000:86:00.0'] });
    expect(two.slice(plain.length)).toEqual([
      '-device',
      'vfio-pci,host=0000:3b:00.0,id=hostdev0',
      '-device',
      'vfio-pci,host=0000:3b:00.1,id=hostdev1',
      '-device',
      'vfio-pci,host=0000:86:00.0,id=hostdev2',
    ]);
    expect(qemuArgs(record(), files, { accel: 'kvm', hostdevs: [] })).toEqual(plain);
  });

  it('the exact command line of a VM with a GPU and its audio function', () => {
    const files = vmLayout('/d/vms', 'f0e1d2c3-b4a5-4968-8776-655443322110');
    const args = qemuArgs(record({ vm_id: 'f0e1d2c3-b4a5-4968-8776-655443322110', name: 'gpu-1', memory_mb: 16384, cpu_cores: 8 }), files, {
      accel: 'kvm',
      hostdevs: ['0000:3b:00.0', '0000:3b:00.1'],
    });
    const dir = '/d/vms/f0e1d2c3-b4a5-4968-8776-655443322110';
    expect(launchArgv('qemu-system-x86_64', args, '8-15,24-31')).toEqual([
      'taskset',
      '--cpu-list',
      '8-15,24-31',
      'qemu-system-x86_64',
      '-name',
      'gpu-1,process=qemu-f0e1d2c3-b4a5-4968-8776-655443322110',
      '-uuid',
      'f0e1d2c3-b4a5-4968-8776-655443322110',
      '-accel',
      'kvm',
      '-nodefaults',
      '-no-user-config',
      '-display',
      'none',
      '-m',
      '16384',
      '-smp',
      '8',
      '-chardev',
      `socket,id=qmp,path=${dir}/qmp.sock,server=on,wait=off`,
      '-mon',
      'chardev=qmp,mode=control',
      '-chardev',
      `socket,id=serial0,path=${dir}/serial.sock,server=on,wait=off,logfile=${dir}/console.log,logappend=on`,
      '-serial',
      'chardev:serial0',
      '-pidfile',
      `${dir}/qemu.pid`,
      '-drive',
      `file=${dir}/disk0.qcow2,if=none,id=disk0,format=qcow2,cache=writeback`,
      '-device',
      'virtio-blk-pci,drive=disk0,bootindex=1',
      '-netdev',
      'user,id=net0',
      '-device',
      'virtio-net-pci,netdev=net0,mac=52:54:00:12:34:56',
      '-device',
      'vfio-pci,host=0000:3b:00.0,id=hostdev0',
      '-device',
      'vfio-pci,host=0000:3b:00.1,id=hostdev1',
    ]);
  });

  it('starts QEMU itself when there are no CPUs to pin to', () => {
    expect(launchArgv('/opt/qemu/bin/qemu-system-x86_64', ['-name', 'x'], null)).toEqual([
      '/opt/qemu/bin/qemu-system-x86_64',
      '-name',
      'x',
    ]);
  });

  for (const hostile of HOSTILE) {
    it(`keeps a host address of ${JSON.stringify(hostile)} one value of its -device`, () => {
      const args = qemuArgs(record(), vmLayout('/v', 'id'), { accel: 'kvm', hostdevs: ['0000:3b:00.0', hostile] });
      const device = argAfter(args, '-device', 3);
      expect(keysOf(device)).toEqual(['vfio-pci', 'host', 'id']);
      expect(valueIn(device, 'host')).toBe(hostile);
      expect(valueIn(device, 'id')).toBe('hostdev1');
    });
  }

  it('refuses a host address with control characters', () => {
    expect(() => qemuArgs(record(), vmLayout('/v', 'id'), { accel: 'kvm', hostdevs: ['0000:3b:00.0\n-x'] })).toThrow(/control characters/);
  });
});
