import type { OsType } from '../domain/fields.js';
import type { GpuFault } from '../domain/gpu.js';
import type { HostInventory } from '../domain/host.js';
import type { HardwareChanges, Network } from '../domain/vm.js';
import type { ConsoleLog } from './console-log.js';

/** What the hypervisor reports for a domain. `missing`: it has no such domain. */
export type DomainState = 'running' | 'paused' | 'stopped' | 'crashed' | 'missing';

/** A GPU given to a domain: passed through with the other functions of its IOMMU group that are not bridges (its audio, say). */
export interface GpuAssignment {
  /** PCI address on the host, e.g. 0000:3b:00.0. */
  address: string;
  /** Its NUMA node: the domain's vCPUs are kept on that node's CPUs. */
  numa_node: number | null;
}

export interface DomainSpec {
  vm_id: string;
  name: string;
  cpu_cores: number;
  memory_mb: number;
  disk_gb: number;
  os_type: OsType;
  network: Network;
  vnc_enabled: boolean;
  /** An ISO in the image store to attach as a CD-ROM. */
  iso_path?: string | null;
  /** A disk image in the image store the VM's disk starts as a copy of. */
  base_image?: { path: string; format: 'raw' | 'qcow2' } | null;
  /** Host GPUs to pass through (checked by a preflight at each start). */
  gpus?: GpuAssignment[];
}

/** A disk file of a domain, as exported or handed over for import. */
export interface DiskFile {
  name: string;
  path: string;
  format: 'raw' | 'qcow2';
  size: number;
  /** For a copy made for the export (a remote host's disk, downloaded): removes it once read. */
  release?: () => Promise<void>;
}

export interface DefinedDomain {
  /** The driver's handle for the domain; stored with the VM. */
  ref: string;
  /** A TCP port for the VM's VNC console, where the driver has one; null where the console is a unix socket. */
  vnc_port: number | null;
  mac_address: string | null;
}

export interface DomainInfo {
  ref: string;
  vm_id: string | null;
  state: DomainState;
}

/** What a host has (the schema is the domain's: an agent's report of it crosses a trust boundary). */
export type { HostInventory } from '../domain/host.js';

export interface CallOptions {
  /** Aborted when the operation's deadline passes or it is cancelled. */
  signal?: AbortSignal;
}

/** A state change the hypervisor noticed on its own (a guest powering itself off, a crash). */
export interface DomainStateChange {
  ref: string;
  state: DomainState;
  reason: string;
  /** The hypervisor's own name for what happened (a QMP event), worth recording even when the state is unchanged. */
  event?: string;
}

/** Offline changes a driver applies: the VM's hardware, the ISO in its CD-ROM drive, and the GPUs it is given (the whole set). */
export type DomainChanges = HardwareChanges & { iso_path?: string | null; gpus?: GpuAssignment[] };

/** Optional: VMs leave and enter the host as archives of their disks (export, import). */
export interface ArchiveCapability {
  /** The disk files of a stopped domain, to be read for an export. */
  exportDisks(ref: string, opts?: CallOptions): Promise<DiskFile[]>;
  /** Defines a domain whose disks are these files; the driver takes them over (moves them). */
  importDomain(spec: DomainSpec, disks: DiskFile[], opts?: CallOptions): Promise<DefinedDomain>;
}

/** Optional: the hypervisor reports state changes by itself (a guest powering off, a crash). */
export interface WatchCapability {
  /** Subscribe; returns the unsubscribe. */
  watch(listener: (change: DomainStateChange) => void): () => void;
}

/** A domain the hypervisor holds that is not Hangar's (defined by another tool or by hand). */
export interface UnmanagedDomainInfo {
  name: string;
  uuid: string;
  state: DomainState;
}

/**
 * Optional: the hypervisor keeps things of its own worth showing people: each domain's
 * configuration document (libvirt's domain XML), and domains that are not Hangar's.
 */
export interface InspectCapability {
  /** The domain's configuration as the hypervisor holds it, read-only. */
  configXml(ref: string, opts?: CallOptions): Promise<string>;
  /** Domains on the host that Hangar does not manage (and never touches). */
  listUnmanaged(opts?: CallOptions): Promise<UnmanagedDomainInfo[]>;
}

/** Optional: the guest's serial console is kept in a log, whose end people read (why did it not boot?). */
export interface ConsoleCapability {
  /** The last `max_bytes` of the domain's console log (empty when it never ran). */
  consoleLog(ref: string, params: { max_bytes: number }, opts?: CallOptions): Promise<ConsoleLog>;
}

/**
 * Where a domain's screen is served, as VNC (RFB): a unix socket, or a TCP port, on the
 * machine this driver runs on. Reached only by the control plane, which proxies it to people.
 */
export type ScreenEndpoint = { path: string } | { host: string; port: number };

/** Optional: the domain's screen (its VNC server), for the web console to show. */
export interface ScreenCapability {
  /**
   * Where to connect to the domain's screen; null where it shows none now (it does not run, or
   * has no VNC display). A domain the hypervisor does not have is DriverError `not_found`.
   */
  screenEndpoint(ref: string, opts?: CallOptions): Promise<ScreenEndpoint | null>;
}

/**
 * What every hypervisor backend does: the lifecycle, mandatory. Calls are idempotent:
 * starting a running domain, killing a stopped one or undefining a missing one succeeds, so a
 * retried operation is safe. Drivers know nothing of the database. Optional capabilities
 * (`ArchiveCapability`, `WatchCapability`) are methods a driver has or has not; `can` tells
 * which, so callers refuse up front what a host cannot do.
 */
export interface HypervisorDriver
  extends Partial<ArchiveCapability>,
    Partial<WatchCapability>,
    Partial<InspectCapability>,
    Partial<ConsoleCapability>,
    Partial<ScreenCapability> {
  readonly kind: string;
  inventory(opts?: CallOptions): Promise<HostInventory>;
  define(spec: DomainSpec, opts?: CallOptions): Promise<DefinedDomain>;
  undefine(ref: string, params: { delete_disks: boolean }, opts?: CallOptions): Promise<void>;
  start(ref: string, opts?: CallOptions): Promise<void>;
  /** ACPI power-off, forced off once `timeout_ms` passes. */
  shutdown(ref: string, params: { timeout_ms: number }, opts?: CallOptions): Promise<{ forced: boolean }>;
  kill(ref: string, opts?: CallOptions): Promise<void>;
  /** Graceful restart: shutdown (forced at `timeout_ms`) then start. */
  reboot(ref: string, params: { timeout_ms: number }, opts?: CallOptions): Promise<{ forced: boolean }>;
  reset(ref: string, opts?: CallOptions): Promise<void>;
  pause(ref: string, opts?: CallOptions): Promise<void>;
  resume(ref: string, opts?: CallOptions): Promise<void>;
  /** Offline changes: the domain is stopped. Returns what changed on the driver's side (a new VNC port). */
  reconfigure(ref: string, changes: DomainChanges, opts?: CallOptions): Promise<Partial<DefinedDomain>>;
  state(ref: string, opts?: CallOptions): Promise<DomainState>;
  list(opts?: CallOptions): Promise<DomainInfo[]>;
  /** What the driver chose at start (an accelerator, a directory), logged once. */
  describe?(): Promise<Record<string, unknown>>;
  close?(): Promise<void>;
}

export type DriverErrorKind = 'unavailable' | 'no_resources' | 'not_found' | 'aborted' | 'failed';

/** A driver call that did not do what it was asked; `kind` says whether retrying elsewhere could help. */
export class DriverError extends Error {
  override readonly name = 'DriverError';
  constructor(
    readonly kind: DriverErrorKind,
    message: string,
  ) {
    super(message);
  }
}

/**
 * A start refused before launching because GPUs cannot be passed through: `faults` names each
 * GPU and why (not bound to vfio-pci, its IOMMU group holds a device the host uses, no
 * /dev/vfio/N). The operation fails with the message and those GPUs are marked unhealthy.
 */
export class GpuPreflightError extends DriverError {
  constructor(
    readonly faults: GpuFault[],
    message = `GPU preflight failed: ${faults.map((f) => `${f.address}: ${f.reason}`).join('; ')}`,
  ) {
    super('failed', message);
  }
}

/** Which optional capabilities a driver has. */
export const can = {
  archives: (d: HypervisorDriver): d is HypervisorDriver & ArchiveCapability =>
    typeof d.exportDisks === 'function' && typeof d.importDomain === 'function',
  watch: (d: HypervisorDriver): d is HypervisorDriver & WatchCapability => typeof d.watch === 'function',
  console: (d: HypervisorDriver): d is HypervisorDriver & ConsoleCapability => typeof d.consoleLog === 'function',
  screen: (d: HypervisorDriver): d is HypervisorDriver & ScreenCapability => typeof d.screenEndpoint === 'function',
  inspect: (d: HypervisorDriver): d is HypervisorDriver & InspectCapability =>
    typeof d.configXml === 'function' && typeof d.listUnmanaged === 'function',
};
