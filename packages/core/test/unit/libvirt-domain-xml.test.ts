import { describe, expect, it } from 'vitest';
import { convert } from 'xmlbuilder2';
import { type DomainRecord, parseRecord } from '../../src/drivers/libvirt/domain-record.js';
import { domainName, domainXml, HANGAR_XMLNS, type LibvirtDomain } from '../../src/drivers/libvirt/domain-xml.js';

// The libvirt domain XML builder alone: whatever a name, path or bridge holds, it stays one
// text or attribute value; the document is what libvirt expects to read.

const ID = '6c7e3b27-7159-4e0a-9e30-3d44284574cd';
const record = (over: Partial<DomainRecord> = {}): DomainRecord => ({
  id: ID,
  name: 'web-1',
  cpu_cores: 2,
  memory_mb: 512,
  disk_gb: 10,
  disk_format: 'qcow2',
  network: 'nat',
  mac: '52:54:00:12:34:56',
  vnc: 'no',
  ...over,
});
const base = (over: Partial<DomainRecord> = {}, rest: Partial<LibvirtDomain> = {}): LibvirtDomain => ({
  record: record(over),
  domain_type: 'qemu',
  disk: { path: '/var/lib/hangar/vms/x/disk0.qcow2', format: 'qcow2' },
  console_log: '/var/lib/hangar/vms/x/console.log',
  ...rest,
});

/** The five predefined entities, decoded (the parser keeps text as written). */
const unentity = (s: string) =>
  s
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&amp;/g, '&');
const decoded = (v: unknown): unknown =>
  typeof v === 'string'
    ? unentity(v)
    : Array.isArray(v)
      ? v.map(decoded)
      : v && typeof v === 'object'
        ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, decoded(x)]))
        : v;

/** The document as plain objects (attributes under `@`, text under `#`), values decoded. */
const parsed = (xml: string) => (decoded(convert(xml, { format: 'object' })) as any).domain;
const list = <T>(v: T | T[]) => (Array.isArray(v) ? v : [v]);

const HOSTILE = ['a</title><devices><hostdev/></devices><title>', `"'><&`, ']]>', 'x" type="block', '$(reboot)', 'naïve ✓ 名前'];

describe('domainXml', () => {
  it('writes the domain libvirt expects', () => {
    const d = parsed(domainXml(base({ iso: '/images/tools.iso', vnc: 'yes' })));
    expect(d['@type']).toBe('qemu');
    expect(d.name).toBe(domainName(ID));
    expect(d.uuid).toBe(ID);
    expect(d.title).toBe('web-1');
    expect(d.metadata['hangar:vm']).toMatchObject({ '@xmlns:hangar': HANGAR_XMLNS, '@id': ID, '@disk_gb': '10', '@vnc': 'yes' });
    expect(d.memory).toEqual({ '@unit': 'MiB', '#': '512' });
    expect(d.vcpu).toBe('2');
    const disks = list(d.devices.disk);
    expect(disks.map((x: { '@device': string }) => x['@device'])).toEqual(['disk', 'cdrom']);
    expect(disks[0].source['@file']).toBe('/var/lib/hangar/vms/x/disk0.qcow2');
    expect(disks[1].source['@file']).toBe('/images/tools.iso');
    expect(d.devices.interface).toMatchObject({
      '@type': 'network',
      source: { '@network': 'default' },
      mac: { '@address': '52:54:00:12:34:56' },
    });
    expect(d.devices.graphics).toEqual({ '@type': 'vnc', listen: { '@type': 'socket' } });
    expect(d.on_poweroff).toBe('destroy');
  });

  it('attaches a bridge, and boots a kernel directly when told', () => {
    const d = parsed(
      domainXml(
        base(
          { network: 'bridge', bridge: 'br0', mac: '52:54:00:00:00:01' },
          { boot: { kernel: '/k', initrd: '/i', append: 'console=ttyS0' } },
        ),
      ),
    );
    expect(d.devices.interface).toMatchObject({ '@type': 'bridge', source: { '@bridge': 'br0' } });
    expect(d.os).toMatchObject({ kernel: '/k', initrd: '/i', cmdline: 'console=ttyS0' });
    expect(d.devices.graphics).toBeUndefined();
  });

  for (const hostile of HOSTILE) {
    it(`keeps ${JSON.stringify(hostile)} one value wherever it goes`, () => {
      const xml = domainXml(
        base(
          { name: hostile, iso: `/images/${hostile}.iso`, network: 'bridge', bridge: hostile, mac: '52:54:00:00:00:02', vnc: 'yes' },
          { disk: { path: `/data/${hostile}/disk0.qcow2`, format: 'qcow2' }, console_log: `/data/${hostile}/console.log` },
        ),
      );
      const d = parsed(xml);
      expect(d.title).toBe(hostile);
      const disks = list(d.devices.disk);
      expect(disks).toHaveLength(2);
      expect(disks[0].source['@file']).toBe(`/data/${hostile}/disk0.qcow2`);
      expect(disks[1].source['@file']).toBe(`/images/${hostile}.iso`);
      expect(d.devices.interface.source['@bridge']).toBe(hostile);
      expect(d.metadata['hangar:vm']['@name']).toBe(hostile);
      expect(d.devices.hostdev).toBeUndefined();
      expect(Object.keys(d.devices).sort()).toEqual(['console', 'disk', 'graphics', 'interface', 'serial', 'video']);
    });
  }

  it('keeps the record in the metadata element, read back whole (as libvirt returns it)', () => {
    for (const name of ['web-1', ...HOSTILE]) {
      const r = record({ name, iso: `/images/${name}.iso`, network: 'bridge', bridge: name });
      const xml = domainXml(base(r));
      // libvirt hands back the element alone, namespace declared on it.
      const element = xml.slice(xml.indexOf('<hangar:vm'), xml.indexOf('</metadata>')).trim();
      expect(parseRecord(element)).toEqual(r);
    }
  });

  it('reads no record from an element that is not a whole, valid one', () => {
    expect(parseRecord('')).toBeNull();
    expect(parseRecord('<hangar:vm xmlns:hangar="x" id="not-a-uuid"/>')).toBeNull();
    expect(parseRecord(`<vm id="${ID}" name="a"/>`)).toBeNull();
    expect(parseRecord('<<<')).toBeNull();
  });

  it('refuses what XML cannot carry', () => {
    for (const bad of ['a\u0000b', 'x\u001b[31m', '\ud800']) {
      expect(() => domainXml(base({ name: bad }))).toThrow(/cannot be written as XML/);
    }
  });
});
