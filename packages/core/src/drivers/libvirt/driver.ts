import { createWriteStream } from 'node:fs';
import { mkdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { GpuDevice } from '../../domain/gpu.js';
import type { Capacity } from '../../domain/host.js';
import { type ConsoleLog, readConsoleTail } from '../console-log.js';
import {
  type CallOptions,
  type DefinedDomain,
  type DiskFile,
  type DomainChanges,
  type DomainInfo,
  type DomainSpec,
  type DomainState,
  type DomainStateChange,
  DriverError,
  type GpuAssignment,
  GpuPreflightError,
  type HostInventory,
  type HypervisorDriver,
  type InspectCapability,
  type ScreenEndpoint,
  type UnmanagedDomainInfo,
} from '../driver.js';
import { markBootDisplay } from '../gpus/boot-display.js';
import { oneGpuPerGroup } from '../gpus/shared-groups.js';
import { randomMac } from '../mac-address.js';
import { chooseAccel } from '../qemu/accel.js';
import type { DirectBoot } from '../qemu/command-line.js';
import { numaNodeCpuset } from './capabilities.js';
import { consoleLogName, DiskPool } from './disk-pool.js';
import { type DomainRecord, parseRecord } from './domain-record.js';
import { domainName, domainXml, gpuNumaNode, HANGAR_XMLNS } from './domain-xml.js';
import { gpuPreflight, type NodeDeviceReader, passthroughAddresses } from './gpu-passthrough.js';
import { screenFromDomainXml } from './graphics.js';
import { gpusFromNodeDevices } from './node-devices.js';
import { LibvirtError } from './rpc/connection.js';
import {
  DomainStateCode,
  ErrorCode,
  LifecycleEvent,
  StoppedDetail,
  VIR_DOMAIN_UNDEFINE_MANAGED_SAVE,
  VIR_DOMAIN_UNDEFINE_NVRAM,
  VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA,
} from './rpc/protocol.js';
import { type DomainHandle, type LibvirtRemote, type LifecycleMessage, uuidString, type VolumeHandle } from './rpc/remote.js';
import { parseLibvirtUri } from './rpc/transport.js';
import { LibvirtSession } from './session.js';

export type DomainTypeSetting = 'auto' | 'kvm' | 'qemu';

export interface LibvirtDriverOptions {
  /** `qemu:///system`, `qemu+ssh://host/system`, … */
  uri: string;
  /** The directory of the storage pool VMs' disks and console logs go to, on the libvirt host (where the pool is made). */
  image_dir: string;
  /** The libvirt storage pool of VMs' disks; made at `image_dir` where it does not exist. */
  pool?: string;
  /** Where a remote host's disks are downloaded to for an export (on this machine). */
  scratch_dir?: string;
  domain_type?: DomainTypeSetting;
  /** libvirt's network NAT VMs join. */
  nat_network?: string;
  /** Boot every VM from this kernel instead of its disk or CD-ROM. */
  boot?: DirectBoot;
  /** How long each call may wait for libvirtd. */
  call_timeout_ms?: number;
  /** Bridges VMs may be attached to (none by default: `bridge` networks are refused). */
  allowed_bridges?: string[];
  /** Where sysfs is mounted, to find the host's boot display on a local connection (a fixture in tests). */
  sysfsRoot?: string;
}

const POWERDOWN_REPEAT_MS = 2_000;
const POLL_MS = 50;

/**
 * Drives libvirtd over its RPC protocol (see `rpc/`): every VM is a persistent domain
 * (`defineXML`) named `hangar-<vm id>` whose UUID is the VM's id and whose metadata element
 * holds Hangar's record of it, so domains outlive both Hangar and libvirtd, show in `virsh
 * list`, and are found again by any later driver (adoption needs no file of ours). Domains
 * without that element belong to someone else: listed for an admin as unmanaged, never touched.
 */
export class LibvirtDriver implements HypervisorDriver, InspectCapability {
  readonly kind = 'libvirt';
  readonly session: LibvirtSession;
  private readonly disks: DiskPool;
  private readonly listeners = new Set<(c: DomainStateChange) => void>();
  private backlog: DomainStateChange[] = [];
  /** When each domain's last lifecycle event came, so a resync does not report an older state over it. */
  private readonly lastEvent = new Map<string, number>();
  /** The storage pool's directory on the libvirt host, once known. */
  private poolDir: string | null = null;
  private domainType: Promise<{ type: 'kvm' | 'qemu'; reason: string }> | null = null;
  private lastCapacity: Capacity = { cpus: 0, memory_mb: 0, disk_gb: 0 };
  /** Serializes changes to one domain's definition (a define racing a reconfigure). */
  private readonly locks = new Map<string, Promise<unknown>>();

  constructor(private readonly opts: LibvirtDriverOptions) {
    if (parseLibvirtUri(opts.uri).local) {
      this.consoleLog = async (ref, params, callOpts) => {
        await this.session.use('finding the domain', async (r) => this.handle(r, ref, callOpts));
        return readConsoleTail(this.files(ref).console, params.max_bytes);
      };
      // The socket or port is on libvirt's machine: only a driver on it can connect.
      this.screenEndpoint = (ref, callOpts) =>
        this.session.use('reading where the domain shows its screen', async (r) =>
          screenFromDomainXml(await r.xml(await this.handle(r, ref, callOpts), { inactive: false }, callOpts)),
        );
    }
    this.disks = new DiskPool({ name: opts.pool ?? 'hangar', dir: opts.image_dir });
    this.session = new LibvirtSession(parseLibvirtUri(opts.uri), {
      onLifecycle: (m) => this.onLifecycle(m),
      onReconnect: () => {
        this.disks.reset();
        void this.resync();
      },
      call_timeout_ms: opts.call_timeout_ms,
    });
  }

  async describe(): Promise<Record<string, unknown>> {
    const version = await this.session.use('reading the version', (r) => r.libVersion()).catch((e: Error) => `unknown (${e.message})`);
    const t = await this.type();
    return { uri: this.opts.uri, libvirt: version, domain_type: t.type, domain_type_reason: t.reason, image_dir: this.opts.image_dir };
  }

  async inventory(opts?: CallOptions): Promise<HostInventory> {
    try {
      return await this.session.use('reading the host inventory', async (r) => {
        const info = await r.nodeInfo(opts);
        // Every PCI device, not only GPUs: a GPU's health depends on the others in its IOMMU group.
        const xmls = [];
        for (const name of await r.listPciDevices(opts)) xmls.push(await r.nodeDeviceXml(name, opts).catch(() => ''));
        const gpus = oneGpuPerGroup(await this.withoutBootDisplay(gpusFromNodeDevices(xmls)));
        this.lastCapacity = { cpus: info.cpus, memory_mb: Number(info.memory_kib / 1024n), disk_gb: await this.disks.freeGb(r) };
        return { capacity: this.lastCapacity, gpus };
      });
    } catch (err) {
      // A host whose libvirtd is down is still a host: offline, with the reason.
      return { capacity: this.lastCapacity, gpus: [], unavailable: (err as Error).message };
    }
  }

  /**
   * libvirt detaches a managed hostdev from whatever driver holds it, the host's console
   * included, and its node devices do not say which display the firmware booted on. On a local
   * connection sysfs does. A remote host's boot display cannot be told apart here (docs say so).
   */
  private async withoutBootDisplay(gpus: GpuDevice[]): Promise<GpuDevice[]> {
    return parseLibvirtUri(this.opts.uri).local ? markBootDisplay(gpus, this.opts.sysfsRoot ?? '/sys') : gpus;
  }

  async define(spec: DomainSpec, opts?: CallOptions): Promise<DefinedDomain> {
    const base = spec.base_image;
    return this.defineWith(spec, (r) =>
      base
        ? this.disks.createFrom(r, spec.vm_id, spec.disk_gb, base, opts?.signal)
        : this.disks.createBlank(r, spec.vm_id, spec.disk_gb, opts?.signal),
    );
  }

  async importDomain(spec: DomainSpec, disks: DiskFile[], opts?: CallOptions): Promise<DefinedDomain> {
    if (disks.length !== 1) throw new DriverError('failed', `the libvirt driver runs VMs with one disk; the archive has ${disks.length}`);
    const [src] = disks as [DiskFile];
    return this.defineWith(spec, (r) => this.disks.createFrom(r, spec.vm_id, spec.disk_gb, src, opts?.signal));
  }

  /**
   * The disk of a stopped domain. On this machine it is the volume's own file; from a remote
   * host it is downloaded first, and removed once the export has read it.
   */
  async exportDisks(ref: string, opts?: CallOptions): Promise<DiskFile[]> {
    return this.session.use('reading the disk for export', async (r) => {
      const d = await this.handle(r, ref, opts);
      if (toState(await r.state(d, opts)) !== 'stopped') throw new DriverError('failed', 'the VM is running: stop it before exporting');
      const found = await this.disks.find(r, ref);
      if (!found) throw new DriverError('not_found', `the disk of ${domainName(ref)} is not in storage pool ${this.opts.pool ?? 'hangar'}`);
      const name = found.format === 'qcow2' ? 'disk0.qcow2' : 'disk0.img';
      if (this.session.target.local) {
        const path = await r.volumePath(found.vol, opts);
        return [{ name, path, format: found.format, size: (await stat(path)).size }];
      }
      const scratch = this.opts.scratch_dir ?? join(tmpdir(), 'hangar-libvirt-exports');
      await mkdir(scratch, { recursive: true, mode: 0o700 });
      const path = join(scratch, `${ref}-${Date.now()}.${found.format}`);
      const out = createWriteStream(path, { mode: 0o600 });
      // Every stream gets an error handler: one failing (a full disk) fails the export, below.
      out.on('error', () => {});
      try {
        // No more than the volume can hold (its virtual size, plus qcow2's own tables): a
        // daemon streaming without end must not fill this machine's disk.
        const { capacity } = await r.volumeInfo(found.vol, opts);
        await r.download(found.vol, out, { signal: opts?.signal, max_bytes: Number(capacity) + Number(capacity) / 8 + 64 * 2 ** 20 });
        await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
        if (out.errored) throw out.errored;
      } catch (err) {
        out.destroy();
        await rm(path, { force: true });
        throw err;
      }
      return [{ name, path, format: found.format, size: (await stat(path)).size, release: () => rm(path, { force: true }) }];
    });
  }

  async undefine(ref: string, params: { delete_disks: boolean }, opts?: CallOptions): Promise<void> {
    await this.session.use('undefining the domain', async (r) => {
      const d = await this.hangarDomain(r, ref, opts);
      if (d) {
        await ignoring(ErrorCode.OPERATION_INVALID, r.destroy(d, opts));
        const flags = VIR_DOMAIN_UNDEFINE_MANAGED_SAVE | VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA | VIR_DOMAIN_UNDEFINE_NVRAM;
        await ignoring(ErrorCode.NO_DOMAIN, r.undefine(d, flags, opts));
      }
      if (params.delete_disks) {
        await this.disks.remove(r, ref);
        // The console log is virtlogd's file, not a volume: reachable only on this machine.
        if (this.session.target.local) await rm(this.files(ref).console, { force: true });
      }
    });
  }

  async start(ref: string, opts?: CallOptions): Promise<void> {
    await this.session.use('starting the domain', async (r) => {
      const d = await this.handle(r, ref, opts);
      if (!['stopped', 'crashed'].includes(toState(await r.state(d, opts)))) return;
      // Checked here, not left to libvirt: its error would not say which GPU, and the scheduler marks the faulty ones.
      const gpus = parseRecord((await r.metadata(d, HANGAR_XMLNS, opts)) ?? '')?.gpus ?? [];
      const faults = await gpuPreflight(
        gpus.map((g) => g.address),
        this.nodeDevices(r, opts),
      );
      if (faults.length > 0) throw new GpuPreflightError(faults);
      try {
        await r.create(d, opts);
      } catch (err) {
        // Started by someone else in between: what was asked is done.
        if (err instanceof LibvirtError && err.code === ErrorCode.OPERATION_INVALID && toState(await r.state(d, opts)) === 'running')
          return;
        throw err;
      }
    });
  }

  async shutdown(ref: string, params: { timeout_ms: number }, opts?: CallOptions): Promise<{ forced: boolean }> {
    return this.session.use('shutting the domain down', async (r) => {
      const d = await this.handle(r, ref, opts);
      const off = async () => ['stopped', 'crashed'].includes(toState(await r.state(d, opts)));
      if (await off()) return { forced: false };
      // A paused guest cannot see the power button.
      if (toState(await r.state(d, opts)) === 'paused') await ignoring(ErrorCode.OPERATION_INVALID, r.resume(d, opts));
      const deadline = Date.now() + params.timeout_ms;
      while (Date.now() < deadline) {
        if (opts?.signal?.aborted) throw new DriverError('aborted', 'stop was cancelled');
        // Pressed again while waiting: a guest still booting misses the first press.
        await ignoring(ErrorCode.OPERATION_INVALID, r.shutdown(d, opts));
        const until = Math.min(deadline, Date.now() + POWERDOWN_REPEAT_MS);
        while (Date.now() < until) {
          if (await off()) return { forced: false };
          await sleep(POLL_MS);
        }
      }
      await ignoring(ErrorCode.OPERATION_INVALID, r.destroy(d, opts));
      return { forced: true };
    });
  }

  async kill(ref: string, opts?: CallOptions): Promise<void> {
    await this.session.use('destroying the domain', async (r) => {
      const d = await this.hangarDomain(r, ref, opts);
      // Not running (or not there): already what was asked.
      if (d) await ignoring(ErrorCode.OPERATION_INVALID, r.destroy(d, opts));
    });
  }

  async reboot(ref: string, params: { timeout_ms: number }, opts?: CallOptions): Promise<{ forced: boolean }> {
    const result = await this.shutdown(ref, params, opts);
    await this.start(ref, opts);
    return result;
  }

  async reset(ref: string, opts?: CallOptions): Promise<void> {
    await this.session.use('resetting the domain', async (r) => r.reset(await this.running(r, ref, opts), opts));
  }

  async pause(ref: string, opts?: CallOptions): Promise<void> {
    await this.session.use('pausing the domain', async (r) => {
      const d = await this.handle(r, ref, opts);
      if (toState(await r.state(d, opts)) === 'paused') return;
      await r.suspend(d, opts);
    });
  }

  async resume(ref: string, opts?: CallOptions): Promise<void> {
    await this.session.use('resuming the domain', async (r) => {
      const d = await this.handle(r, ref, opts);
      if (toState(await r.state(d, opts)) === 'running') return;
      await r.resume(d, opts);
    });
  }

  async reconfigure(ref: string, changes: DomainChanges, opts?: CallOptions): Promise<Partial<DefinedDomain>> {
    return this.locked(ref, () =>
      this.session.use('reconfiguring the domain', async (r) => {
        const d = await this.handle(r, ref, opts);
        if (toState(await r.state(d, opts)) !== 'stopped')
          throw new DriverError('failed', 'the VM is running: hardware changes need it stopped');
        const record = await this.record(r, d, opts);
        const next: DomainRecord = { ...record };
        if (changes.cpu_cores !== undefined) next.cpu_cores = changes.cpu_cores;
        if (changes.memory_mb !== undefined) next.memory_mb = changes.memory_mb;
        if (changes.disk_gb !== undefined && changes.disk_gb !== record.disk_gb) {
          if (changes.disk_gb < record.disk_gb)
            throw new DriverError('failed', `disks only grow: ${record.disk_gb} GB cannot become ${changes.disk_gb} GB`);
          const found = await this.disks.find(r, ref);
          if (!found) throw new DriverError('not_found', `the disk of ${domainName(ref)} is missing from its storage pool`);
          await this.disks.grow(r, found.vol, record.disk_format, changes.disk_gb, opts?.signal);
          next.disk_gb = changes.disk_gb;
        }
        if (changes.network) {
          this.checkNetwork(changes.network);
          next.network = changes.network.type;
          next.bridge = changes.network.bridge_name ?? undefined;
          next.mac = changes.network.mac_address ?? record.mac;
        }
        if (changes.vnc_enabled !== undefined) next.vnc = changes.vnc_enabled ? 'yes' : 'no';
        if (changes.iso_path !== undefined) next.iso = changes.iso_path ?? undefined;
        if (changes.gpus !== undefined) Object.assign(next, await this.gpuFields(r, changes.gpus, opts));
        // Redefining a persistent domain replaces its definition.
        await r.defineXml(await this.xml(r, next), opts);
        return { vnc_port: null, mac_address: next.mac };
      }),
    );
  }

  async state(ref: string, opts?: CallOptions): Promise<DomainState> {
    return this.session.use('reading the domain state', async (r) => {
      const d = await this.hangarDomain(r, ref, opts);
      return d ? toState(await r.state(d, opts)) : 'missing';
    });
  }

  /** Hangar's domains (those carrying its metadata), with their state. */
  async list(opts?: CallOptions): Promise<DomainInfo[]> {
    return (await this.listAll(opts)).filter((d) => d.vm_id !== null).map(({ ref, vm_id, state }) => ({ ref, vm_id, state }));
  }

  /** Domains libvirt holds that are not Hangar's: an admin's to see, never the control plane's to touch. */
  async listUnmanaged(opts?: CallOptions): Promise<UnmanagedDomainInfo[]> {
    return (await this.listAll(opts)).filter((d) => d.vm_id === null).map((d) => ({ name: d.name, uuid: d.ref, state: d.state }));
  }

  /**
   * The end of the domain's console log, which libvirt writes into the storage pool's
   * directory. Only on this machine: a remote host's log is on that host, so a driver for one
   * has no console log to offer (`can.console` says so).
   */
  readonly consoleLog?: (ref: string, params: { max_bytes: number }, opts?: CallOptions) => Promise<ConsoleLog>;

  /**
   * Where the running domain's VNC server listens (its live XML's graphics), for the web
   * console; null while it does not run. Only on this machine, like `consoleLog`.
   */
  readonly screenEndpoint?: (ref: string, opts?: CallOptions) => Promise<ScreenEndpoint | null>;

  /** The domain XML libvirt holds for this VM (its persistent definition), read-only. */
  async configXml(ref: string, opts?: CallOptions): Promise<string> {
    return this.session.use('reading the domain XML', async (r) => r.xml(await this.handle(r, ref, opts), { inactive: true }, opts));
  }

  watch(listener: (change: DomainStateChange) => void): () => void {
    this.listeners.add(listener);
    const backlog = this.backlog;
    this.backlog = [];
    for (const c of backlog) listener(c);
    return () => this.listeners.delete(listener);
  }

  /** Lets go of libvirtd; the domains keep running for the next control plane. */
  async close(): Promise<void> {
    await this.session.close();
  }

  /** Where a domain's console log is, on the libvirt host (in the storage pool's directory). */
  files(ref: string) {
    return { console: join(this.poolDir ?? this.opts.image_dir, consoleLogName(ref)) };
  }

  // ---- internals ----

  private async listAll(opts?: CallOptions): Promise<(DomainInfo & { name: string })[]> {
    return this.session.use('listing domains', async (r) => {
      const domains = await r.listDomains(opts);
      const found = await Promise.all(
        domains.map(async (d) => {
          try {
            const record = parseRecord((await r.metadata(d, HANGAR_XMLNS, opts)) ?? '');
            const uuid = uuidString(d.uuid);
            // A record claiming another domain's VM id (a copied definition) is not Hangar's.
            const vm_id = record && record.id === uuid && d.name === domainName(uuid) ? uuid : null;
            return { ref: uuid, vm_id, name: d.name, state: toState(await r.state(d, opts)) };
          } catch (err) {
            // Undefined between the list and the look: it is simply not there any more.
            if (err instanceof LibvirtError && err.code === ErrorCode.NO_DOMAIN) return null;
            throw err;
          }
        }),
      );
      return found.filter((d) => d !== null);
    });
  }

  private async defineWith(spec: DomainSpec, makeDisk: (r: LibvirtRemote) => Promise<VolumeHandle>): Promise<DefinedDomain> {
    return this.locked(spec.vm_id, () =>
      this.session.use('defining the domain', async (r) => {
        this.checkNetwork(spec.network);
        const existing = await r.lookupByUuid(spec.vm_id);
        if (existing && existing.name !== domainName(spec.vm_id)) {
          throw new DriverError('failed', `domain ${existing.name}, not Hangar's, has this VM's UUID: it is left alone`);
        }
        if (existing) return { ref: spec.vm_id, vnc_port: null, mac_address: (await this.record(r, existing)).mac };
        const gpuFields = await this.gpuFields(r, spec.gpus ?? []);
        // A volume without a domain is an unfinished define: made again.
        await this.disks.remove(r, spec.vm_id);
        const vol = await makeDisk(r);
        const record: DomainRecord = {
          id: spec.vm_id,
          name: spec.name,
          cpu_cores: spec.cpu_cores,
          memory_mb: spec.memory_mb,
          disk_gb: spec.disk_gb,
          disk_format: vol.name.endsWith('.qcow2') ? 'qcow2' : 'raw',
          network: spec.network.type,
          bridge: spec.network.bridge_name ?? undefined,
          mac: spec.network.mac_address ?? randomMac(),
          vnc: spec.vnc_enabled ? 'yes' : 'no',
          iso: spec.iso_path ?? undefined,
          ...gpuFields,
        };
        // Defined last: the domain is what makes the define done.
        await r.defineXml(await this.xml(r, record));
        return { ref: spec.vm_id, vnc_port: null, mac_address: record.mac };
      }),
    );
  }

  private async xml(r: LibvirtRemote, record: DomainRecord): Promise<string> {
    const found = await this.disks.find(r, record.id);
    if (!found) throw new DriverError('failed', `the disk of ${domainName(record.id)} is missing from its storage pool`);
    const { dir } = await this.disks.ensure(r);
    this.poolDir = dir;
    return domainXml({
      record,
      domain_type: (await this.type()).type,
      disk: { path: await r.volumePath(found.vol), format: found.format },
      nat_network: this.opts.nat_network,
      console_log: join(dir, consoleLogName(record.id)),
      boot: this.opts.boot,
    });
  }

  /**
   * What the record keeps of a set of GPUs: the assignment, every function passed through
   * (found now, so a later redefine needs no node device), and the CPUs of their NUMA node.
   * No GPUs: all three absent.
   */
  private async gpuFields(
    r: LibvirtRemote,
    gpus: GpuAssignment[],
    opts?: CallOptions,
  ): Promise<Pick<DomainRecord, 'gpus' | 'hostdevs' | 'cpuset'>> {
    if (gpus.length === 0) return { gpus: undefined, hostdevs: undefined, cpuset: undefined };
    const node = gpuNumaNode(gpus);
    return {
      gpus: gpus.map((g) => ({ address: g.address, numa_node: g.numa_node })),
      hostdevs: await passthroughAddresses(gpus, this.nodeDevices(r, opts)),
      cpuset: node === null ? undefined : (numaNodeCpuset(await r.capabilities(opts), node) ?? undefined),
    };
  }

  /** Node devices by name; null for one libvirt does not have. */
  private nodeDevices(r: LibvirtRemote, opts?: CallOptions): NodeDeviceReader {
    return async (name) => {
      try {
        return await r.nodeDeviceXml(name, opts);
      } catch (err) {
        if (err instanceof LibvirtError && err.code === ErrorCode.NO_NODE_DEVICE) return null;
        throw err;
      }
    };
  }

  private type(): Promise<{ type: 'kvm' | 'qemu'; reason: string }> {
    this.domainType ??= (async () => {
      const setting = this.opts.domain_type ?? 'auto';
      if (setting !== 'auto') return { type: setting, reason: `HANGAR_LIBVIRT_DOMAIN_TYPE=${setting}` };
      if (!this.session.target.local) return { type: 'kvm' as const, reason: 'a remote host is taken to run KVM' };
      const accel = await chooseAccel('auto', 'qemu-system-x86_64');
      return { type: accel.accel === 'kvm' ? ('kvm' as const) : ('qemu' as const), reason: accel.reason };
    })();
    return this.domainType;
  }

  /** A bridge only where the operator allowed it: libvirt attaches a tap to any bridge it is named. */
  private checkNetwork(network: { type: string; bridge_name?: string | null }): void {
    if (network.type !== 'bridge') return;
    const allowed = this.opts.allowed_bridges ?? [];
    if (!network.bridge_name || !allowed.includes(network.bridge_name)) {
      throw new DriverError(
        'failed',
        `bridge ${JSON.stringify(network.bridge_name)} is not one this host allows (HANGAR_LIBVIRT_BRIDGES: ${allowed.join(', ') || 'none'})`,
      );
    }
  }

  /**
   * Hangar's domain for this VM, or null. A domain with the VM's UUID but another name is not
   * Hangar's (defined by hand, or by another tool): never driven, never undefined.
   */
  private async hangarDomain(r: LibvirtRemote, ref: string, opts?: CallOptions): Promise<DomainHandle | null> {
    const d = await r.lookupByUuid(ref, opts);
    return d && d.name === domainName(ref) ? d : null;
  }

  private async handle(r: LibvirtRemote, ref: string, opts?: CallOptions): Promise<DomainHandle> {
    const d = await this.hangarDomain(r, ref, opts);
    if (!d) throw new DriverError('not_found', `no libvirt domain ${domainName(ref)} on ${this.opts.uri}`);
    return d;
  }

  private async running(r: LibvirtRemote, ref: string, opts?: CallOptions): Promise<DomainHandle> {
    const d = await this.handle(r, ref, opts);
    if (toState(await r.state(d, opts)) === 'stopped') throw new DriverError('failed', `VM ${ref} is not running`);
    return d;
  }

  private async record(r: LibvirtRemote, d: DomainHandle, opts?: CallOptions): Promise<DomainRecord> {
    const record = parseRecord((await r.metadata(d, HANGAR_XMLNS, opts)) ?? '');
    if (!record) throw new DriverError('failed', `domain ${d.name} carries no Hangar record in its metadata`);
    return record;
  }

  private onLifecycle(m: LifecycleMessage): void {
    const ref = uuidString(m.domain.uuid);
    if (m.domain.name !== domainName(ref)) return; // not Hangar's
    const change = fromLifecycle(ref, m.event, m.detail);
    if (!change) return;
    this.lastEvent.set(ref, Date.now());
    if (change.state === 'missing') this.lastEvent.delete(ref);
    this.report(change);
  }

  /** After libvirtd comes back: what each domain is now, since events may have been missed. */
  private async resync(): Promise<void> {
    const began = Date.now();
    const domains = await this.list().catch(() => []);
    for (const d of domains) {
      // An event heard meanwhile is newer than what the list read: it stands.
      if ((this.lastEvent.get(d.ref) ?? 0) >= began) continue;
      this.report({ ref: d.ref, state: d.state, reason: 'seen after reconnecting to libvirtd' });
    }
  }

  private report(change: DomainStateChange): void {
    if (this.listeners.size === 0) {
      this.backlog.push(change);
      if (this.backlog.length > 1000) this.backlog.shift();
      return;
    }
    for (const l of this.listeners) l(change);
  }

  private locked<T>(ref: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(ref) ?? Promise.resolve();
    const next = prev.catch(() => {}).then(fn);
    this.locks.set(ref, next);
    void next
      .finally(() => {
        if (this.locks.get(ref) === next) this.locks.delete(ref);
      })
      .catch(() => {});
    return next;
  }
}

/** virDomainState (and, for a shut-off domain, why) as Hangar's domain state. */
export function toState({ state, reason }: { state: number; reason: number }): DomainState {
  switch (state) {
    case DomainStateCode.PAUSED:
    case DomainStateCode.PMSUSPENDED:
      return 'paused';
    case DomainStateCode.CRASHED:
      return 'crashed';
    case DomainStateCode.SHUTOFF:
      // VIR_DOMAIN_SHUTOFF_CRASHED (3) and _FAILED (6): it did not stop of its own will.
      return reason === 3 || reason === 6 ? 'crashed' : 'stopped';
    default:
      // RUNNING, BLOCKED (on I/O), SHUTDOWN (going down, still running), NOSTATE.
      return 'running';
  }
}

/** A lifecycle event as a state change; null for events that change nothing Hangar tracks. */
export function fromLifecycle(ref: string, event: number, detail: number): DomainStateChange | null {
  const stopped = StoppedDetail[detail] ?? 'unknown';
  switch (event) {
    case LifecycleEvent.STARTED:
      return { ref, state: 'running', reason: 'the domain started', event: 'libvirt.started' };
    case LifecycleEvent.SUSPENDED:
      return { ref, state: 'paused', reason: 'the domain was paused', event: 'libvirt.suspended' };
    case LifecycleEvent.RESUMED:
      return { ref, state: 'running', reason: 'the domain resumed', event: 'libvirt.resumed' };
    case LifecycleEvent.STOPPED: {
      const crashed = stopped === 'crashed' || stopped === 'failed';
      const reason =
        stopped === 'shutdown'
          ? 'the guest powered off'
          : stopped === 'destroyed'
            ? 'the domain was destroyed (virsh destroy, or its QEMU killed)'
            : `the domain stopped (${stopped})`;
      return { ref, state: crashed ? 'crashed' : 'stopped', reason, event: `libvirt.stopped.${stopped}` };
    }
    case LifecycleEvent.CRASHED:
      return { ref, state: 'crashed', reason: 'the guest crashed', event: 'libvirt.crashed' };
    case LifecycleEvent.UNDEFINED:
      return { ref, state: 'missing', reason: 'the domain was undefined', event: 'libvirt.undefined' };
    default:
      return null;
  }
}

async function ignoring(code: number, p: Promise<unknown>): Promise<void> {
  try {
    await p;
  } catch (err) {
    if (!(err instanceof LibvirtError && err.code === code)) throw err;
  }
}
