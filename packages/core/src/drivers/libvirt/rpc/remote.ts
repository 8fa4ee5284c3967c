import type { Writable } from 'node:stream';
import { type CallOptions, LibvirtError, type RpcConnection } from './connection.js';
import {
  AuthType,
  ErrorCode,
  Proc,
  VIR_CONNECT_LIST_NODE_DEVICES_CAP_PCI_DEV,
  VIR_DOMAIN_EVENT_ID_LIFECYCLE,
  VIR_DOMAIN_METADATA_ELEMENT,
  VIR_DOMAIN_XML_INACTIVE,
} from './protocol.js';
import type { XdrReader, XdrWriter } from './xdr.js';

/** `remote_nonnull_domain`: how the protocol names a domain in calls and replies. */
export interface DomainHandle {
  name: string;
  uuid: Buffer;
  /** The running domain's id, -1 when it is not running. */
  id: number;
}

export interface NodeInfo {
  model: string;
  memory_kib: bigint;
  cpus: number;
  mhz: number;
}

/** `remote_nonnull_storage_pool` */
export interface PoolHandle {
  name: string;
  uuid: Buffer;
}

/** `remote_nonnull_storage_vol` */
export interface VolumeHandle {
  pool: string;
  name: string;
  key: string;
}

export interface LifecycleMessage {
  domain: DomainHandle;
  event: number;
  detail: number;
}

const writeDomain = (w: XdrWriter, d: DomainHandle) => w.string(d.name).fixedOpaque(d.uuid).int(d.id);
const readDomain = (r: XdrReader): DomainHandle => ({ name: r.string(), uuid: Buffer.from(r.fixedOpaque(16)), id: r.int() });

const writePool = (w: XdrWriter, p: PoolHandle) => w.string(p.name).fixedOpaque(p.uuid);
const readPool = (r: XdrReader): PoolHandle => ({ name: r.string(), uuid: Buffer.from(r.fixedOpaque(16)) });
const writeVol = (w: XdrWriter, v: VolumeHandle) => w.string(v.pool).string(v.name).string(v.key);
const readVol = (r: XdrReader): VolumeHandle => ({ pool: r.string(), name: r.string(), key: r.string() });

export const uuidBytes = (uuid: string) => {
  const hex = uuid.replace(/-/g, '');
  // libvirt's UUIDs are 16 raw bytes; anything else would be a packet it cannot read.
  if (!/^[0-9a-f]{32}$/i.test(hex)) throw new Error(`not a UUID: ${JSON.stringify(uuid)}`);
  return Buffer.from(hex, 'hex');
};
export const uuidString = (b: Buffer) => {
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
};

/**
 * The procedures of libvirt's remote protocol this driver calls, typed: each writes its
 * arguments and reads its reply in XDR, in the order `remote_protocol.x` declares them.
 */
export class LibvirtRemote {
  constructor(readonly rpc: RpcConnection) {}

  /**
   * Authenticates the way the daemon asks, then opens `name` (`qemu:///system`). On the local
   * socket libvirtd asks for polkit, which lets root (and whom the host's policy allows) in by
   * the socket's peer credentials; SASL (usual on TCP) is not spoken.
   */
  async open(name: string, opts?: CallOptions): Promise<void> {
    const types = (await this.rpc.call(Proc.AUTH_LIST, undefined, opts)).array((r) => r.int());
    if (types.length > 0 && !types.includes(AuthType.NONE)) {
      if (!types.includes(AuthType.POLKIT)) {
        throw new LibvirtError(
          ErrorCode.AUTH_FAILED,
          'libvirtd asks for SASL authentication, which Hangar does not speak: allow auth "none" or polkit for its socket',
        );
      }
      await this.rpc.call(Proc.AUTH_POLKIT, undefined, opts);
    }
    await this.rpc.call(Proc.CONNECT_OPEN, (w) => w.optString(name).uint(0), opts);
  }

  async close(): Promise<void> {
    await this.rpc.call(Proc.CONNECT_CLOSE, undefined, { timeout_ms: 2_000 }).catch(() => {});
    this.rpc.close();
  }

  async libVersion(opts?: CallOptions): Promise<string> {
    const v = Number((await this.rpc.call(Proc.CONNECT_GET_LIB_VERSION, undefined, opts)).uhyper());
    return `${Math.floor(v / 1_000_000)}.${Math.floor(v / 1000) % 1000}.${v % 1000}`;
  }

  async nodeInfo(opts?: CallOptions): Promise<NodeInfo> {
    const r = await this.rpc.call(Proc.NODE_GET_INFO, undefined, opts);
    // `char model[32]`: XDR writes each char as a 4-byte word.
    const chars: number[] = [];
    for (let i = 0; i < 32; i++) chars.push(r.int() & 0xff);
    const model = Buffer.from(chars).toString('latin1').replace(/\0.*$/s, '');
    return { model, memory_kib: r.uhyper(), cpus: r.int(), mhz: r.int() };
  }

  /** The host's capabilities XML: its CPUs, NUMA cells and the guests it can run. */
  async capabilities(opts?: CallOptions): Promise<string> {
    return (await this.rpc.call(Proc.CONNECT_GET_CAPABILITIES, undefined, opts)).string();
  }

  async defineXml(xml: string, opts?: CallOptions): Promise<DomainHandle> {
    return readDomain(await this.rpc.call(Proc.DOMAIN_DEFINE_XML, (w) => w.string(xml), opts));
  }

  /** The domain with this UUID, or null when libvirt has none. */
  async lookupByUuid(uuid: string, opts?: CallOptions): Promise<DomainHandle | null> {
    return orNull(ErrorCode.NO_DOMAIN, async () =>
      readDomain(await this.rpc.call(Proc.DOMAIN_LOOKUP_BY_UUID, (w) => w.fixedOpaque(uuidBytes(uuid)), opts)),
    );
  }

  async create(d: DomainHandle, opts?: CallOptions): Promise<void> {
    await this.rpc.call(Proc.DOMAIN_CREATE, (w) => writeDomain(w, d), opts);
  }

  async shutdown(d: DomainHandle, opts?: CallOptions): Promise<void> {
    await this.rpc.call(Proc.DOMAIN_SHUTDOWN, (w) => writeDomain(w, d), opts);
  }

  async destroy(d: DomainHandle, opts?: CallOptions): Promise<void> {
    await this.rpc.call(Proc.DOMAIN_DESTROY, (w) => writeDomain(w, d), opts);
  }

  async reboot(d: DomainHandle, opts?: CallOptions): Promise<void> {
    await this.rpc.call(Proc.DOMAIN_REBOOT, (w) => writeDomain(w, d).uint(0), opts);
  }

  async reset(d: DomainHandle, opts?: CallOptions): Promise<void> {
    await this.rpc.call(Proc.DOMAIN_RESET, (w) => writeDomain(w, d).uint(0), opts);
  }

  async suspend(d: DomainHandle, opts?: CallOptions): Promise<void> {
    await this.rpc.call(Proc.DOMAIN_SUSPEND, (w) => writeDomain(w, d), opts);
  }

  async resume(d: DomainHandle, opts?: CallOptions): Promise<void> {
    await this.rpc.call(Proc.DOMAIN_RESUME, (w) => writeDomain(w, d), opts);
  }

  async undefine(d: DomainHandle, flags: number, opts?: CallOptions): Promise<void> {
    await this.rpc.call(Proc.DOMAIN_UNDEFINE_FLAGS, (w) => writeDomain(w, d).uint(flags), opts);
  }

  /** virDomainState and its reason. */
  async state(d: DomainHandle, opts?: CallOptions): Promise<{ state: number; reason: number }> {
    const r = await this.rpc.call(Proc.DOMAIN_GET_STATE, (w) => writeDomain(w, d).uint(0), opts);
    return { state: r.int(), reason: r.int() };
  }

  /** The domain's XML; `inactive`: its persistent definition rather than the running one. */
  async xml(d: DomainHandle, params: { inactive: boolean }, opts?: CallOptions): Promise<string> {
    const flags = params.inactive ? VIR_DOMAIN_XML_INACTIVE : 0;
    return (await this.rpc.call(Proc.DOMAIN_GET_XML_DESC, (w) => writeDomain(w, d).uint(flags), opts)).string();
  }

  /** The domain's metadata element in namespace `uri`, or null when it has none. */
  async metadata(d: DomainHandle, uri: string, opts?: CallOptions): Promise<string | null> {
    return orNull(ErrorCode.NO_DOMAIN_METADATA, async () => {
      const r = await this.rpc.call(
        Proc.DOMAIN_GET_METADATA,
        (w) => writeDomain(w, d).int(VIR_DOMAIN_METADATA_ELEMENT).optString(uri).uint(0),
        opts,
      );
      return r.string();
    });
  }

  async listDomains(opts?: CallOptions): Promise<DomainHandle[]> {
    const r = await this.rpc.call(Proc.CONNECT_LIST_ALL_DOMAINS, (w) => w.int(1).uint(0), opts);
    return r.array(readDomain);
  }

  /** The names of the host's PCI devices (`pci_0000_01_00_0`). */
  async listPciDevices(opts?: CallOptions): Promise<string[]> {
    const r = await this.rpc.call(
      Proc.CONNECT_LIST_ALL_NODE_DEVICES,
      (w) => w.int(1).uint(VIR_CONNECT_LIST_NODE_DEVICES_CAP_PCI_DEV),
      opts,
    );
    return r.array((x) => x.string());
  }

  async nodeDeviceXml(name: string, opts?: CallOptions): Promise<string> {
    return (await this.rpc.call(Proc.NODE_DEVICE_GET_XML_DESC, (w) => w.string(name).uint(0), opts)).string();
  }

  /** The storage pool of this name, or null when libvirt has none. */
  async poolByName(name: string, opts?: CallOptions): Promise<PoolHandle | null> {
    return orNull(ErrorCode.NO_STORAGE_POOL, async () =>
      readPool(await this.rpc.call(Proc.STORAGE_POOL_LOOKUP_BY_NAME, (w) => w.string(name), opts)),
    );
  }

  async definePool(xml: string, opts?: CallOptions): Promise<PoolHandle> {
    return readPool(await this.rpc.call(Proc.STORAGE_POOL_DEFINE_XML, (w) => w.string(xml).uint(0), opts));
  }

  async buildPool(p: PoolHandle, opts?: CallOptions): Promise<void> {
    await this.rpc.call(Proc.STORAGE_POOL_BUILD, (w) => writePool(w, p).uint(0), opts);
  }

  async startPool(p: PoolHandle, opts?: CallOptions): Promise<void> {
    await this.rpc.call(Proc.STORAGE_POOL_CREATE, (w) => writePool(w, p).uint(0), opts);
  }

  async setPoolAutostart(p: PoolHandle, on: boolean, opts?: CallOptions): Promise<void> {
    await this.rpc.call(Proc.STORAGE_POOL_SET_AUTOSTART, (w) => writePool(w, p).int(on ? 1 : 0), opts);
  }

  /** virStoragePoolState (2: running) and its space in bytes. */
  async poolInfo(p: PoolHandle, opts?: CallOptions): Promise<{ state: number; capacity: bigint; available: bigint }> {
    const r = await this.rpc.call(Proc.STORAGE_POOL_GET_INFO, (w) => writePool(w, p), opts);
    // `unsigned char state`: XDR writes it as a whole word.
    const state = r.uint();
    const capacity = r.uhyper();
    r.uhyper(); // allocation
    return { state, capacity, available: r.uhyper() };
  }

  async poolXml(p: PoolHandle, opts?: CallOptions): Promise<string> {
    return (await this.rpc.call(Proc.STORAGE_POOL_GET_XML_DESC, (w) => writePool(w, p).uint(0), opts)).string();
  }

  async refreshPool(p: PoolHandle, opts?: CallOptions): Promise<void> {
    await this.rpc.call(Proc.STORAGE_POOL_REFRESH, (w) => writePool(w, p).uint(0), opts);
  }

  /** The volume of this name in the pool, or null when there is none. */
  async volumeByName(p: PoolHandle, name: string, opts?: CallOptions): Promise<VolumeHandle | null> {
    return orNull(ErrorCode.NO_STORAGE_VOL, async () =>
      readVol(await this.rpc.call(Proc.STORAGE_VOL_LOOKUP_BY_NAME, (w) => writePool(w, p).string(name), opts)),
    );
  }

  async createVolume(p: PoolHandle, xml: string, opts?: CallOptions): Promise<VolumeHandle> {
    return readVol(await this.rpc.call(Proc.STORAGE_VOL_CREATE_XML, (w) => writePool(w, p).string(xml).uint(0), opts));
  }

  async deleteVolume(v: VolumeHandle, opts?: CallOptions): Promise<void> {
    await this.rpc.call(Proc.STORAGE_VOL_DELETE, (w) => writeVol(w, v).uint(0), opts);
  }

  async volumeXml(v: VolumeHandle, opts?: CallOptions): Promise<string> {
    return (await this.rpc.call(Proc.STORAGE_VOL_GET_XML_DESC, (w) => writeVol(w, v).uint(0), opts)).string();
  }

  async volumePath(v: VolumeHandle, opts?: CallOptions): Promise<string> {
    return (await this.rpc.call(Proc.STORAGE_VOL_GET_PATH, (w) => writeVol(w, v), opts)).string();
  }

  /** The volume's virtual size and the space it takes, in bytes. */
  async volumeInfo(v: VolumeHandle, opts?: CallOptions): Promise<{ capacity: bigint; allocation: bigint }> {
    const r = await this.rpc.call(Proc.STORAGE_VOL_GET_INFO, (w) => writeVol(w, v), opts);
    r.int(); // `char type`, a whole word in XDR
    return { capacity: r.uhyper(), allocation: r.uhyper() };
  }

  async resizeVolume(v: VolumeHandle, bytes: bigint, opts?: CallOptions): Promise<void> {
    await this.rpc.call(Proc.STORAGE_VOL_RESIZE, (w) => writeVol(w, v).uhyper(bytes).uint(0), opts);
  }

  /** Writes `source` into the volume from its start. */
  async upload(v: VolumeHandle, source: AsyncIterable<Uint8Array>, opts?: CallOptions): Promise<void> {
    await this.rpc.upload(Proc.STORAGE_VOL_UPLOAD, (w) => writeVol(w, v).uhyper(0).uhyper(0).uint(0), source, opts);
  }

  /** Reads the whole volume into `sink`; more than `max_bytes` is refused. */
  async download(v: VolumeHandle, sink: Writable, opts: CallOptions & { max_bytes: number }): Promise<void> {
    await this.rpc.download(Proc.STORAGE_VOL_DOWNLOAD, (w) => writeVol(w, v).uhyper(0).uhyper(0).uint(0), sink, opts);
  }

  /** Subscribes this connection to every domain's lifecycle events; `onLifecycle` hears them. */
  async registerLifecycle(onLifecycle: (m: LifecycleMessage) => void, opts?: CallOptions): Promise<number> {
    this.rpc.on('event', (proc, body) => {
      if (proc !== Proc.DOMAIN_EVENT_CALLBACK_LIFECYCLE) return;
      try {
        body.int(); // the callback id: this connection registers one
        onLifecycle({ domain: readDomain(body), event: body.int(), detail: body.int() });
      } catch {
        // A malformed event is dropped; the periodic check still sees the state.
      }
    });
    const r = await this.rpc.call(
      Proc.CONNECT_DOMAIN_EVENT_CALLBACK_REGISTER_ANY,
      (w) => w.int(VIR_DOMAIN_EVENT_ID_LIFECYCLE).bool(false),
      opts,
    );
    return r.int();
  }
}

/** The answer, or null where libvirt says there is no such thing (error `code`). */
async function orNull<T>(code: number, call: () => Promise<T>): Promise<T | null> {
  try {
    return await call();
  } catch (err) {
    if (err instanceof LibvirtError && err.code === code) return null;
    throw err;
  }
}
