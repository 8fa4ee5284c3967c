import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { convert } from 'xmlbuilder2';
import { GpuPreflightError } from '../../src/drivers/driver.js';
import { LibvirtDriver } from '../../src/drivers/libvirt/driver.js';
import { nodeDeviceName } from '../../src/drivers/libvirt/node-devices.js';
import { ErrorCode, MessageStatus, MessageType, Proc, REMOTE_PROGRAM } from '../../src/drivers/libvirt/rpc/protocol.js';
import { uuidBytes, uuidString } from '../../src/drivers/libvirt/rpc/remote.js';
import { XdrReader, XdrWriter } from '../../src/drivers/libvirt/rpc/xdr.js';

// The libvirt driver's GPU handling against a scripted libvirtd speaking the real protocol:
// what it defines for the GPUs it is given, and that a start it cannot honour is refused
// before libvirt is asked.

const POOL_UUID = Buffer.alloc(16, 1);

/** A PCI device's node device XML; `group`: the members of its IOMMU group (none: IOMMU off). */
function pciDevice(address: string, cls: string, driver: string, group: string[] | null, numa = 0): string {
  const [domain, bus, rest] = address.split(':') as [string, string, string];
  const [slot, fn] = rest.split('.') as [string, string];
  const member = (a: string) => {
    const [d, b, r] = a.split(':') as [string, string, string];
    const [s, f] = r.split('.') as [string, string];
    return `<address domain='0x${d}' bus='0x${b}' slot='0x${s}' function='0x${f}'/>`;
  };
  return `<device><name>${nodeDeviceName(address)}</name><driver><name>${driver}</name></driver>
  <capability type='pci'><class>${cls}</class><domain>${parseInt(domain, 16)}</domain><bus>${parseInt(bus, 16)}</bus>
  <slot>${parseInt(slot, 16)}</slot><function>${parseInt(fn, 16)}</function>
  <product id='0x20b5'/><vendor id='0x10de'/>
  ${group ? `<iommuGroup number='${parseInt(bus, 16)}'>${group.map(member).join('')}</iommuGroup>` : ''}<numa node='${numa}'/></capability></device>`;
}

const DEVICES = [
  pciDevice('0000:3b:00.0', '0x030200', 'nvidia', ['0000:3b:00.0', '0000:3b:00.1'], 1),
  pciDevice('0000:3b:00.1', '0x040300', 'snd_hda_intel', ['0000:3b:00.0', '0000:3b:00.1'], 1),
  pciDevice('0000:5e:00.0', '0x030200', 'vfio-pci', ['0000:5e:00.0'], 1),
  pciDevice('0000:86:00.0', '0x030200', 'vfio-pci', null, 0),
  pciDevice('0000:af:00.0', '0x030200', 'vfio-pci', ['0000:af:00.0', '0000:b0:00.0'], 0),
  pciDevice('0000:b0:00.0', '0x020000', 'ixgbe', ['0000:af:00.0', '0000:b0:00.0'], 0),
];

const CAPABILITIES = `<capabilities><host><topology><cells num='2'>
  <cell id='0'><cpus num='2'><cpu id='0'/><cpu id='1'/></cpus></cell>
  <cell id='1'><cpus num='3'><cpu id='2'/><cpu id='3'/><cpu id='8'/></cpus></cell>
</cells></topology></host></capabilities>`;

/** A libvirtd holding at most one domain and its disk, answering what the driver asks. */
class FakeLibvirtd {
  server!: Server;
  readonly dir: string;
  /** The domain's XML as last defined, and whether it runs. */
  defined: string | null = null;
  running = false;
  readonly calls: number[] = [];
  volume = false;

  constructor(dir: string) {
    this.dir = dir;
  }

  get socket() {
    return join(this.dir, 'libvirt-sock');
  }

  async listen(): Promise<void> {
    this.server = createServer((s) => {
      let buf = Buffer.alloc(0);
      s.on('error', () => {});
      s.on('data', (d) => {
        buf = Buffer.concat([buf, d]);
        while (buf.length >= 4 && buf.length >= buf.readUInt32BE(0)) {
          const len = buf.readUInt32BE(0);
          const head = new XdrReader(buf.subarray(4, 28));
          head.uint();
          head.uint();
          const proc = head.int();
          head.int();
          const serial = head.uint();
          this.calls.push(proc);
          const body = new XdrReader(buf.subarray(28, len));
          let reply: Buffer;
          let status: number = MessageStatus.OK;
          try {
            reply = this.answer(proc, body);
          } catch (err) {
            status = MessageStatus.ERROR;
            const { code, message } = err as { code: number; message: string };
            reply = new XdrWriter().int(code).int(0).optString(message).int(2).bytes();
          }
          const header = new XdrWriter()
            .uint(28 + reply.length)
            .uint(REMOTE_PROGRAM)
            .uint(1)
            .int(proc)
            .int(MessageType.REPLY)
            .uint(serial)
            .int(status)
            .bytes();
          s.write(Buffer.concat([header, reply]));
          buf = buf.subarray(len);
        }
      });
    });
    await new Promise<void>((res) => this.server.listen(this.socket, res));
  }

  private domain(): { name: string; uuid: string } {
    if (!this.defined) throw { code: ErrorCode.NO_DOMAIN, message: 'no domain' };
    const uuid = /<uuid>([^<]+)<\/uuid>/.exec(this.defined)![1]!;
    return { name: `hangar-${uuid}`, uuid };
  }

  private answer(proc: number, body: XdrReader): Buffer {
    const w = new XdrWriter();
    const writeDomain = () => {
      const d = this.domain();
      return w
        .string(d.name)
        .fixedOpaque(uuidBytes(d.uuid))
        .int(this.running ? 1 : -1);
    };
    switch (proc) {
      case Proc.AUTH_LIST:
        return w.uint(1).int(0).bytes();
      case Proc.CONNECT_OPEN:
      case Proc.CONNECT_CLOSE:
        return w.bytes();
      case Proc.CONNECT_DOMAIN_EVENT_CALLBACK_REGISTER_ANY:
        return w.int(1).bytes();
      case Proc.CONNECT_GET_CAPABILITIES:
        return w.string(CAPABILITIES).bytes();
      case Proc.NODE_DEVICE_GET_XML_DESC: {
        const name = body.string();
        const xml = DEVICES.find((x) => x.includes(`<name>${name}</name>`));
        if (!xml) throw { code: ErrorCode.NO_NODE_DEVICE, message: `Node device not found: ${name}` };
        return w.string(xml).bytes();
      }
      case Proc.DOMAIN_LOOKUP_BY_UUID: {
        const uuid = uuidString(body.fixedOpaque(16));
        if (!this.defined || this.domain().uuid !== uuid) throw { code: ErrorCode.NO_DOMAIN, message: 'Domain not found' };
        return writeDomain().bytes();
      }
      case Proc.DOMAIN_DEFINE_XML:
        this.defined = body.string();
        return writeDomain().bytes();
      case Proc.DOMAIN_GET_STATE:
        return w
          .int(this.running ? 1 : 5)
          .int(1)
          .bytes();
      case Proc.DOMAIN_GET_METADATA: {
        // libvirt hands back the element alone, its namespace declared on it.
        const xml = this.defined ?? '';
        return w.string(xml.slice(xml.indexOf('<hangar:vm'), xml.indexOf('</metadata>')).trim()).bytes();
      }
      case Proc.DOMAIN_CREATE:
        this.running = true;
        return w.bytes();
      case Proc.STORAGE_POOL_LOOKUP_BY_NAME:
        return w.string(body.string()).fixedOpaque(POOL_UUID).bytes();
      case Proc.STORAGE_POOL_GET_INFO:
        return w
          .uint(2)
          .uhyper(2n ** 40n)
          .uhyper(0)
          .uhyper(2n ** 40n)
          .bytes();
      case Proc.STORAGE_POOL_GET_XML_DESC:
        return w.string(`<pool type='dir'><name>hangar</name><target><path>${this.dir}</path></target></pool>`).bytes();
      case Proc.STORAGE_VOL_LOOKUP_BY_NAME: {
        body.string();
        body.fixedOpaque(16);
        const name = body.string();
        if (!this.volume || !name.endsWith('.qcow2')) throw { code: ErrorCode.NO_STORAGE_VOL, message: 'no volume' };
        return w.string('hangar').string(name).string('key').bytes();
      }
      case Proc.STORAGE_VOL_CREATE_XML: {
        this.volume = true;
        body.string();
        body.fixedOpaque(16);
        const name = /<name>([^<]+)<\/name>/.exec(body.string())![1]!;
        return w.string('hangar').string(name).string('key').bytes();
      }
      case Proc.STORAGE_VOL_GET_PATH:
        return w.string(join(this.dir, 'disk.qcow2')).bytes();
      default:
        throw { code: ErrorCode.INVALID_ARG, message: `procedure ${proc} is not scripted` };
    }
  }

  /** The defined domain, as plain objects (attributes under `@`). */
  parsed(): any {
    return (convert(this.defined ?? '<domain/>', { format: 'object' }) as any).domain;
  }
}

const list = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);
const hostdevs = (d: any) =>
  list(d.devices.hostdev).map((h: any) => {
    const a = h.source.address;
    return `${a['@domain'].slice(2)}:${a['@bus'].slice(2)}:${a['@slot'].slice(2)}.${a['@function'].slice(2)}`;
  });

describe('the libvirt driver with GPUs', () => {
  let dir: string;
  let daemon: FakeLibvirtd;
  let driver: LibvirtDriver;
  const vm_id = randomUUID();
  const spec = (gpus: { address: string; numa_node: number | null }[] | undefined) => ({
    vm_id,
    name: 'gpu-vm',
    cpu_cores: 2,
    memory_mb: 1024,
    disk_gb: 1,
    os_type: 'linux' as const,
    network: { type: 'nat' as const, bridge_name: null, mac_address: null, ip_address: null },
    vnc_enabled: false,
    ...(gpus ? { gpus } : {}),
  });

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hangar-fake-libvirtd-'));
    daemon = new FakeLibvirtd(dir);
    await daemon.listen();
    driver = new LibvirtDriver({
      uri: `qemu+unix:///system?socket=${encodeURIComponent(daemon.socket)}`,
      image_dir: dir,
      domain_type: 'kvm',
      call_timeout_ms: 5_000,
    });
  });
  afterEach(async () => {
    await driver.close();
    daemon.server.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('defines a GPU with its audio function, on its NUMA node and its CPUs', async () => {
    await driver.define(spec([{ address: '0000:3b:00.0', numa_node: 1 }]));
    const d = daemon.parsed();
    expect(hostdevs(d)).toEqual(['0000:3b:00.0', '0000:3b:00.1']);
    expect(d.vcpu).toEqual({ '@placement': 'static', '@cpuset': '2-3,8', '#': '2' });
    expect(d.numatune).toEqual({ memory: { '@mode': 'preferred', '@nodeset': '1' } });
  });

  it('defines without GPUs as before: no hostdev, no placement', async () => {
    await driver.define(spec([]));
    const d = daemon.parsed();
    expect(d.devices.hostdev).toBeUndefined();
    expect(d.vcpu).toBe('2');
    expect(d.numatune).toBeUndefined();
  });

  it('replaces the GPUs on reconfigure, and keeps them through other changes', async () => {
    await driver.define(spec([{ address: '0000:3b:00.0', numa_node: 1 }]));
    await driver.reconfigure(vm_id, { cpu_cores: 4 });
    expect(hostdevs(daemon.parsed())).toEqual(['0000:3b:00.0', '0000:3b:00.1']);
    expect(daemon.parsed().vcpu).toEqual({ '@placement': 'static', '@cpuset': '2-3,8', '#': '4' });

    const capabilityReads = () => daemon.calls.filter((p) => p === Proc.CONNECT_GET_CAPABILITIES).length;
    const before = capabilityReads();
    await driver.reconfigure(vm_id, {
      gpus: [
        { address: '0000:5e:00.0', numa_node: 1 },
        { address: '0000:af:00.0', numa_node: 0 },
      ],
    });
    const d = daemon.parsed();
    expect(hostdevs(d)).toEqual(['0000:5e:00.0', '0000:af:00.0']);
    // On two nodes: placement is left to libvirt, and the host's topology is not needed.
    expect(d.vcpu).toBe('4');
    expect(d.numatune).toBeUndefined();
    expect(capabilityReads()).toBe(before);

    await driver.reconfigure(vm_id, { gpus: [] });
    expect(daemon.parsed().devices.hostdev).toBeUndefined();
    expect(daemon.defined).not.toMatch(/gpus=|hostdevs=|cpuset=/);
  });

  it('refuses to start with GPUs it cannot pass through, naming each, before asking libvirt', async () => {
    await driver.define(
      spec([
        { address: '0000:3b:00.0', numa_node: 1 },
        { address: '0000:86:00.0', numa_node: 0 },
        { address: '0000:af:00.0', numa_node: 0 },
        { address: '0000:99:00.0', numa_node: null },
      ]),
    );
    const err = await driver.start(vm_id).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GpuPreflightError);
    expect((err as GpuPreflightError).kind).toBe('failed');
    expect((err as GpuPreflightError).faults.map((f) => f.address)).toEqual(['0000:86:00.0', '0000:af:00.0', '0000:99:00.0']);
    expect((err as GpuPreflightError).message).toMatch(/0000:af:00\.0: .*0000:b0:00\.0 \(bound to ixgbe\)/);
    expect(daemon.calls).not.toContain(Proc.DOMAIN_CREATE);
    expect(daemon.running).toBe(false);
  });

  it('starts a domain whose GPUs pass the checks', async () => {
    await driver.define(spec([{ address: '0000:3b:00.0', numa_node: 1 }]));
    await driver.start(vm_id);
    expect(daemon.calls).toContain(Proc.DOMAIN_CREATE);
    expect(daemon.running).toBe(true);
  });
});
