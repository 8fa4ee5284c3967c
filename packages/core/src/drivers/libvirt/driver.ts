import { chmod, mkdir, rm, stat, statfs } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Capacity } from '../../domain/host.js';
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
  type HostInventory,
  type HypervisorDriver,
  type InspectCapability,
  type UnmanagedDomainInfo,
} from '../driver.js';
import { randomMac } from '../mac-address.js';
import { moveFile } from '../move-file.js';
import { chooseAccel } from '../qemu/accel.js';
import type { DirectBoot } from '../qemu/command-line.js';
import { QemuImg } from '../qemu/qemu-img.js';
import { type DomainRecord, parseRecord } from './domain-record.js';
import { domainName, domainXml, HANGAR_XMLNS } from './domain-xml.js';
import { gpuFromNodeDevice } from './node-devices.js';
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
import { type DomainHandle, type LibvirtRemote, type LifecycleMessage, uuidString } from './rpc/remote.js';
import { parseLibvirtUri } from './rpc/transport.js';
import { LibvirtSession } from './session.js';

export type DomainTypeSetting = 'auto' | 'kvm' | 'qemu';

export interface LibvirtDriverOptions {
  /** `qemu:///system`, `qemu+ssh://host/system`, … */
  uri: string;
  /** Where domains' disks and console logs live, on the libvirt host. */
  image_dir: string;
  domain_type?: DomainTypeSetting;
  /** libvirt's network NAT VMs join. */
  nat_network?: string;
  qemuImg?: string;
  /** Boot every VM from this kernel instead of its disk or CD-ROM. */
  boot?: DirectBoot;
  /** How long each call may wait for libvirtd. */
  call_timeout_ms?: number;
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
  private readonly img: QemuImg;
  private readonly listeners = new Set<(c: DomainStateChange) => void>();
  private backlog: DomainStateChange[] = [];
  private domainType: Promise<{ type: 'kvm' | 'qemu'; reason: string }> | null = null;
  private lastCapacity: Capacity = { cpus: 0, memory_mb: 0, disk_gb: 0 };
  /** Serializes changes to one domain's definition (a define racing a reconfigure). */
  private readonly locks = new Map<string, Promise<unknown>>();

  constructor(private readonly opts: LibvirtDriverOptions) {
    this.img = new QemuImg(opts.qemuImg ?? 'qemu-img');
    this.session = new LibvirtSession(parseLibvirtUri(opts.uri), {
      onLifecycle: (m) => this.onLifecycle(m),
      onReconnect: () => void this.resync(),
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
        const gpus = [];
        for (const name of await r.listPciDevices(opts)) {
          const gpu = gpuFromNodeDevice(await r.nodeDeviceXml(name, opts).catch(() => ''));
          if (gpu) gpus.push(gpu);
        }
        this.lastCapacity = { cpus: info.cpus, memory_mb: Number(info.memory_kib / 1024n), disk_gb: await this.freeDiskGb() };
        return { capacity: this.lastCapacity, gpus };
      });
    } catch (err) {
      // A host whose libvirtd is down is still a host: offline, with the reason.
      return { capacity: this.lastCapacity, gpus: [], unavailable: (err as Error).message };
    }
  }

  async define(spec: DomainSpec, opts?: CallOptions): Promise<DefinedDomain> {
    const base = spec.base_image;
    return this.defineWith(spec, async (disk) => {
      if (!base) return this.img.create(disk, spec.disk_gb, opts?.signal);
      await this.img.convert(base.path, base.format, disk, opts?.signal);
      await this.growTo(disk, spec.disk_gb, opts?.signal);
    });
  }

  async importDomain(spec: DomainSpec, disks: DiskFile[], opts?: CallOptions): Promise<DefinedDomain> {
    if (disks.length !== 1) throw new DriverError('failed', `the libvirt driver runs VMs with one disk; the archive has ${disks.length}`);
    const [src] = disks as [DiskFile];
    return this.defineWith(spec, async (disk) => {
      if (src.format === 'qcow2') await moveFile(src.path, disk);
      else await this.img.convert(src.path, 'raw', disk, opts?.signal);
      await this.growTo(disk, spec.disk_gb, opts?.signal);
    });
  }

  async exportDisks(ref: string, opts?: CallOptions): Promise<DiskFile[]> {
    const { state } = await this.existing(ref, opts);
    if (state !== 'stopped') throw new DriverError('failed', 'the VM is running: stop it before exporting');
    this.needLocalFiles('exporting');
    const disk = this.files(ref).disk;
    return [{ name: 'disk0.qcow2', path: disk, format: 'qcow2', size: (await stat(disk)).size }];
  }

  async undefine(ref: string, params: { delete_disks: boolean }, opts?: CallOptions): Promise<void> {
    await this.session.use('undefining the domain', async (r) => {
      const d = await r.lookupByUuid(ref, opts);
      if (d) {
        await ignoring(ErrorCode.OPERATION_INVALID, r.destroy(d, opts));
        const flags = VIR_DOMAIN_UNDEFINE_MANAGED_SAVE | VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA | VIR_DOMAIN_UNDEFINE_NVRAM;
        await ignoring(ErrorCode.NO_DOMAIN, r.undefine(d, flags, opts));
      }
    });
    if (params.delete_disks && this.session.target.local) await rm(this.files(ref).dir, { recursive: true, force: true });
  }

  async start(ref: string, opts?: CallOptions): Promise<void> {
    await this.session.use('starting the domain', async (r) => {
      const d = await this.handle(r, ref, opts);
      if (!['stopped', 'crashed'].includes(toState(await r.state(d, opts)))) return;
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
      const d = await r.lookupByUuid(ref, opts);
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
          this.needLocalFiles('resizing a disk');
          await this.img.resize(this.files(ref).disk, changes.disk_gb, opts?.signal);
          next.disk_gb = changes.disk_gb;
        }
        if (changes.network) {
          next.network = changes.network.type;
          next.bridge = changes.network.bridge_name ?? undefined;
          next.mac = changes.network.mac_address ?? record.mac;
        }
        if (changes.vnc_enabled !== undefined) next.vnc = changes.vnc_enabled ? 'yes' : 'no';
        if (changes.iso_path !== undefined) next.iso = changes.iso_path ?? undefined;
        // Redefining a persistent domain replaces its definition.
        await r.defineXml(await this.xml(next), opts);
        return { vnc_port: null, mac_address: next.mac };
      }),
    );
  }

  async state(ref: string, opts?: CallOptions): Promise<DomainState> {
    return this.session.use('reading the domain state', async (r) => {
      const d = await r.lookupByUuid(ref, opts);
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

  /** Where a domain's files are, on the libvirt host. */
  files(ref: string) {
    const dir = join(this.opts.image_dir, ref);
    return { dir, disk: join(dir, 'disk0.qcow2'), console: join(dir, 'console.log') };
  }

  // ---- internals ----

  private async listAll(opts?: CallOptions): Promise<(DomainInfo & { name: string })[]> {
    return this.session.use('listing domains', async (r) => {
      const domains = await r.listDomains(opts);
      return Promise.all(
        domains.map(async (d) => {
          const record = parseRecord((await r.metadata(d, HANGAR_XMLNS, opts)) ?? '');
          const uuid = uuidString(d.uuid);
          // A record claiming another domain's VM id (a copied definition) is not Hangar's.
          const vm_id = record && record.id === uuid && d.name === domainName(uuid) ? uuid : null;
          return { ref: uuid, vm_id, name: d.name, state: toState(await r.state(d, opts)) };
        }),
      );
    });
  }

  private async defineWith(spec: DomainSpec, makeDisk: (path: string) => Promise<void>): Promise<DefinedDomain> {
    this.needLocalFiles('creating a disk');
    return this.locked(spec.vm_id, () =>
      this.session.use('defining the domain', async (r) => {
        const existing = await r.lookupByUuid(spec.vm_id);
        if (existing) return { ref: spec.vm_id, vnc_port: null, mac_address: (await this.record(r, existing)).mac };
        const files = this.files(spec.vm_id);
        await this.traversable(this.opts.image_dir);
        await this.traversable(files.dir);
        try {
          await rm(files.disk, { force: true });
          await makeDisk(files.disk);
        } catch (err) {
          await rm(files.dir, { recursive: true, force: true });
          throw new DriverError('failed', `creating the disk: ${(err as Error).message}`);
        }
        const record: DomainRecord = {
          id: spec.vm_id,
          name: spec.name,
          cpu_cores: spec.cpu_cores,
          memory_mb: spec.memory_mb,
          disk_gb: spec.disk_gb,
          network: spec.network.type,
          bridge: spec.network.bridge_name ?? undefined,
          mac: spec.network.mac_address ?? randomMac(),
          vnc: spec.vnc_enabled ? 'yes' : 'no',
          iso: spec.iso_path ?? undefined,
        };
        // Defined last: a disk without a domain is an unfinished define, redone on retry.
        await r.defineXml(await this.xml(record));
        return { ref: spec.vm_id, vnc_port: null, mac_address: record.mac };
      }),
    );
  }

  private async xml(record: DomainRecord): Promise<string> {
    const files = this.files(record.id);
    return domainXml({
      record,
      domain_type: (await this.type()).type,
      disk: { path: files.disk, format: 'qcow2' },
      nat_network: this.opts.nat_network,
      console_log: files.console,
      boot: this.opts.boot,
    });
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

  private async handle(r: LibvirtRemote, ref: string, opts?: CallOptions): Promise<DomainHandle> {
    const d = await r.lookupByUuid(ref, opts);
    if (!d) throw new DriverError('not_found', `no libvirt domain ${domainName(ref)} on ${this.opts.uri}`);
    return d;
  }

  private async running(r: LibvirtRemote, ref: string, opts?: CallOptions): Promise<DomainHandle> {
    const d = await this.handle(r, ref, opts);
    if (toState(await r.state(d, opts)) === 'stopped') throw new DriverError('failed', `VM ${ref} is not running`);
    return d;
  }

  private async existing(ref: string, opts?: CallOptions): Promise<{ state: DomainState }> {
    return this.session.use('reading the domain', async (r) => ({ state: toState(await r.state(await this.handle(r, ref, opts), opts)) }));
  }

  private async record(r: LibvirtRemote, d: DomainHandle, opts?: CallOptions): Promise<DomainRecord> {
    const record = parseRecord((await r.metadata(d, HANGAR_XMLNS, opts)) ?? '');
    if (!record) throw new DriverError('failed', `domain ${d.name} carries no Hangar record in its metadata`);
    return record;
  }

  private async growTo(disk: string, size_gb: number, signal?: AbortSignal): Promise<void> {
    const { virtual_size } = await this.img.info(disk);
    if (virtual_size > size_gb * 2 ** 30) throw new Error(`the disk image is ${virtual_size} bytes, larger than disk_gb ${size_gb}`);
    if (virtual_size < size_gb * 2 ** 30) await this.img.resize(disk, size_gb, signal);
  }

  private needLocalFiles(what: string): void {
    if (!this.session.target.local) {
      throw new DriverError('failed', `${what} needs the disks on this machine; for a remote host run a hangar agent there`);
    }
  }

  /**
   * Traversable, not readable (0711, whatever the umask): QEMU runs as libvirt's user and opens
   * a disk by its path, so it must pass through; nobody may list what is there.
   */
  private async traversable(dir: string): Promise<void> {
    await mkdir(dir, { recursive: true });
    await chmod(dir, 0o711);
  }

  private async freeDiskGb(): Promise<number> {
    if (!this.session.target.local) return 0;
    await this.traversable(this.opts.image_dir);
    const fs = await statfs(this.opts.image_dir);
    return Math.floor((fs.bavail * fs.bsize) / 2 ** 30);
  }

  private onLifecycle(m: LifecycleMessage): void {
    const ref = uuidString(m.domain.uuid);
    if (m.domain.name !== domainName(ref)) return; // not Hangar's
    const change = fromLifecycle(ref, m.event, m.detail);
    if (change) this.report(change);
  }

  /** After libvirtd comes back: what each domain is now, since events may have been missed. */
  private async resync(): Promise<void> {
    const domains = await this.list().catch(() => []);
    for (const d of domains) this.report({ ref: d.ref, state: d.state, reason: 'seen after reconnecting to libvirtd' });
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
