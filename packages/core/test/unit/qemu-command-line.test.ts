import { describe, expect, it } from 'vitest';
import { qemuArgs } from '../../src/drivers/qemu/command-line.js';
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
});
