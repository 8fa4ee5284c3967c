import { randomUUID } from 'node:crypto';
import type { OsType } from '../../domain/fields.js';
import type { GpuDevice, GpuFault } from '../../domain/gpu.js';
import type { Capacity } from '../../domain/host.js';
import type { Network } from '../../domain/vm.js';
import type { GpuAssignment } from '../driver.js';
import { DomainStore } from './domain-store.js';
import { DomainTable } from './domain-table.js';
import {
  AuthenticationError,
  CallAbortedError,
  GpuUnavailableError,
  HypervisorUnreachableError,
  InvalidVmStateError,
  NoResourcesAvailableError,
  VmNotFoundError,
} from './errors.js';
import { type FaultConfig, FaultPlan, type HypervisorMethod, type InjectedFault } from './faults.js';

export type SimDomainState = 'shutoff' | 'running' | 'paused' | 'crashed';

export interface SimVmSpec {
  name: string;
  /** The control plane's id for the VM, kept so `list` can be matched back. */
  vm_id?: string | null;
  cpu_cores: number;
  memory_mb: number;
  disk_gb: number;
  os_type: OsType;
  network: Network;
  vnc_enabled: boolean;
  /** An ISO in the CD-ROM drive. */
  iso_path?: string | null;
  /** Host GPUs passed through, checked at each start. */
  gpus?: GpuAssignment[];
}

export interface SimDomain {
  id: string;
  vm_id: string | null;
  state: SimDomainState;
  spec: SimVmSpec;
  vnc_port: number | null;
  mac_address: string;
  disks: { name: string; size_gb: number }[];
  /** A guest that ignores ACPI power-off is forced off at the caller's deadline. */
  ignores_acpi: boolean;
  created_at: string;
  /** What the guest wrote to its serial console, line by line (the newest CONSOLE_LINES). */
  console?: string[];
}

/** Console lines a simulated domain keeps. */
const CONSOLE_LINES = 500;

export interface SimulatorConfig {
  /** The API key the hypervisor accepts; defaults to HYPERVISOR_API_KEY, else `simulated`. */
  api_key?: string;
  /** Seed of every random choice (faults, jitter, MACs). */
  seed?: number;
  /** Per-call latency: a fixed number of ms, or a [min, max] range. */
  latency_ms?: number | [number, number];
  faults?: FaultConfig;
  /** How long a guest takes to power off after ACPI power-off. */
  guest_shutdown_ms?: number;
  capacity?: Capacity;
  /** The host's GPUs (`simGpus('10de:20b0,10de:20b0@1')` makes them as HANGAR_SIM_GPUS does). */
  gpus?: GpuDevice[];
  /** Keep domains in this directory (`DomainStore`), so they outlive the process, as real VMs outlive the control plane. */
  state_dir?: string;
}

export interface CallOptions {
  signal?: AbortSignal;
}

export type StateListener = (domain: SimDomain, reason: string) => void;

const DEFAULT_CAPACITY: Capacity = { cpus: 512, memory_mb: 4 * 1024 * 1024, disk_gb: 1024 * 1024 };

export function defaultApiKey(): string {
  return process.env.HYPERVISOR_API_KEY ?? 'simulated';
}

/**
 * The hypervisor behind the simulated `SimulatorClient`: domains in memory, with latency and seeded
 * faults, so the control plane and its users can exercise slow, stuck, failing and crashing
 * domains without a real host.
 */
export class SimulatedHypervisor {
  readonly domains = new DomainTable();
  readonly faults: FaultPlan;
  private readonly pending = new Map<string, Set<AbortController>>();
  private readonly listeners = new Set<StateListener>();
  /** GPUs made faulty by a test, and why (in memory only, as injected faults are). */
  private readonly faultyGpus = new Map<string, string>();
  /** The VNC ports domains have, and the lowest that may be free (every one below it is taken). */
  private readonly vncPorts = new Set<number>();
  private lowestFreeVncPort = 5900;
  /** Where the domains are kept (with `state_dir`). */
  private readonly store: DomainStore | null;

  constructor(readonly config: SimulatorConfig = {}) {
    this.faults = new FaultPlan(config.seed ?? 1, config.faults);
    this.store = config.state_dir ? new DomainStore(config.state_dir) : null;
    for (const d of this.store?.load() ?? []) {
      this.domains.set(d.id, d);
      if (d.vnc_port !== null) this.vncPorts.add(d.vnc_port);
    }
  }

  /** Closes the state directory's log (a later change opens it again). */
  close(): void {
    this.store?.close();
  }

  get apiKey(): string {
    return this.config.api_key ?? defaultApiKey();
  }

  inject(fault: InjectedFault): void {
    this.faults.inject(fault);
  }

  /** Forgets injected faults and fault rates. */
  clearFaults(): void {
    this.faults.clear();
  }

  configureFaults(faults: FaultConfig): void {
    this.faults.configure(faults);
  }

  setLatency(latency: SimulatorConfig['latency_ms']): void {
    this.config.latency_ms = latency;
  }

  /** A running domain dies as if its process was killed. */
  crash(id: string, reason = 'domain crashed'): void {
    const d = this.domains.get(id);
    if (!d || (d.state !== 'running' && d.state !== 'paused')) return;
    this.setState(d, 'crashed', reason);
  }

  /** The guest powers itself off, as `poweroff` inside it would. */
  guestPoweroff(id: string): void {
    const d = this.domains.get(id);
    if (d?.state === 'running') this.setState(d, 'shutoff', 'guest powered off');
  }

  /** The GPU breaks (falls off the bus, say): the host reports it unhealthy and no domain may start with it. */
  failGpu(address: string, reason = 'the GPU failed'): void {
    this.faultyGpus.set(address, reason);
  }

  healGpu(address: string): void {
    this.faultyGpus.delete(address);
  }

  /** The host's GPUs as it reports them, a faulty one unhealthy with its reason. */
  gpus(): GpuDevice[] {
    return (this.config.gpus ?? []).map((g) => {
      const reason = this.faultyGpus.get(g.address);
      return reason === undefined ? { ...g } : { ...g, health: 'unhealthy' as const, health_reason: reason };
    });
  }

  setIgnoresAcpi(id: string, ignores: boolean): void {
    const d = this.mustGet(id);
    d.ignores_acpi = ignores;
    this.save(d);
  }

  onStateChange(listener: StateListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Runs one hypervisor call: authentication, latency, faults, then the work itself. */
  async call<T>(
    method: HypervisorMethod,
    apiKey: string | undefined,
    domain: string | null,
    opts: CallOptions,
    work: (signal: AbortSignal) => T | Promise<T>,
  ): Promise<T> {
    if (!apiKey || apiKey !== this.apiKey) throw new AuthenticationError('invalid or missing hypervisor API key');
    const ctl = new AbortController();
    const onAbort = () => ctl.abort(opts.signal?.reason);
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    if (opts.signal?.aborted) ctl.abort(opts.signal.reason);
    const track = domain ?? '*';
    let set = this.pending.get(track);
    if (!set) {
      set = new Set();
      this.pending.set(track, set);
    }
    set.add(ctl);
    try {
      if (this.faults.crashNow()) this.crashRandomDomain();
      const latency = this.latency();
      if (latency > 0) await abortableSleep(latency, ctl.signal);
      const verdict = this.faults.verdict(method, domain);
      if (verdict.kind === 'hang') await abortableSleep(Number.POSITIVE_INFINITY, ctl.signal);
      if (verdict.kind === 'fail') throw new NoResourcesAvailableError(verdict.message);
      if (verdict.kind === 'unreachable') throw new HypervisorUnreachableError(verdict.message);
      if (ctl.signal.aborted) throw new CallAbortedError(`${method} aborted`);
      return await work(ctl.signal);
    } finally {
      opts.signal?.removeEventListener('abort', onAbort);
      set.delete(ctl);
    }
  }

  /** Aborts calls still waiting on a domain (a kill or delete preempts them, as on a real host). */
  abortPending(id: string, reason: string): void {
    for (const ctl of this.pending.get(id) ?? []) ctl.abort(new CallAbortedError(reason));
  }

  // The operations below are the hypervisor's side of the SimulatorClient's calls.

  createDomain(spec: SimVmSpec): SimDomain {
    const capacity = this.capacity();
    const usedDisk = this.domains.usage.disk_gb;
    if (usedDisk + spec.disk_gb > capacity.disk_gb) {
      throw new NoResourcesAvailableError(`not enough disk: ${capacity.disk_gb - usedDisk} GB free`);
    }
    const id = randomUUID();
    const d: SimDomain = {
      id,
      vm_id: spec.vm_id ?? null,
      state: 'shutoff',
      spec: { ...spec },
      vnc_port: spec.vnc_enabled ? this.freeVncPort() : null,
      mac_address: spec.network.mac_address ?? this.randomMac(),
      disks: [{ name: 'disk0.qcow2', size_gb: spec.disk_gb }],
      ignores_acpi: false,
      created_at: new Date().toISOString(),
    };
    this.domains.set(id, d);
    this.save(d);
    return d;
  }

  deleteDomain(id: string): void {
    const d = this.domains.get(id);
    if (!d) return;
    this.abortPending(id, 'domain deleted');
    this.domains.delete(id);
    this.releaseVncPort(d.vnc_port);
    this.forget(id);
  }

  startDomain(id: string): void {
    const d = this.mustGet(id);
    if (d.state === 'running') return;
    if (d.state === 'paused') throw new InvalidVmStateError('domain is paused; resume it instead');
    const capacity = this.capacity();
    const used = this.domains.usage.memory_mb;
    if (used + d.spec.memory_mb > capacity.memory_mb) {
      throw new NoResourcesAvailableError(`not enough memory: ${capacity.memory_mb - used} MB free`);
    }
    const faults = this.gpuFaults(d);
    if (faults.length > 0) throw new GpuUnavailableError(faults);
    this.setState(d, 'running', 'started');
  }

  async shutdownDomain(id: string, timeoutMs: number, signal: AbortSignal | undefined): Promise<{ forced: boolean }> {
    const d = this.mustGet(id);
    if (d.state === 'shutoff' || d.state === 'crashed') {
      if (d.state === 'crashed') this.setState(d, 'shutoff', 'cleaned up after crash');
      return { forced: false };
    }
    const guestMs = this.config.guest_shutdown_ms ?? 0;
    const obeys = d.state === 'running' && !d.ignores_acpi && guestMs <= timeoutMs;
    await abortableSleep(obeys ? guestMs : timeoutMs, signal);
    if (this.domains.get(id) !== d) throw new VmNotFoundError(`domain ${id} not found`);
    if ((d.state as SimDomainState) !== 'shutoff') this.setState(d, 'shutoff', obeys ? 'guest shut down (ACPI)' : 'forced off at deadline');
    return { forced: !obeys };
  }

  killDomain(id: string): void {
    const d = this.mustGet(id);
    this.abortPending(id, 'domain killed');
    if (d.state !== 'shutoff') this.setState(d, 'shutoff', 'killed');
  }

  resetDomain(id: string): void {
    const d = this.mustGet(id);
    if (d.state !== 'running' && d.state !== 'paused') throw new InvalidVmStateError(`domain is ${d.state}`);
    this.setState(d, 'running', 'reset');
  }

  pauseDomain(id: string): void {
    const d = this.mustGet(id);
    if (d.state === 'paused') return;
    if (d.state !== 'running') throw new InvalidVmStateError(`domain is ${d.state}`);
    this.setState(d, 'paused', 'paused');
  }

  resumeDomain(id: string): void {
    const d = this.mustGet(id);
    if (d.state === 'running') return;
    if (d.state !== 'paused') throw new InvalidVmStateError(`domain is ${d.state}`);
    this.setState(d, 'running', 'resumed');
  }

  reconfigureDomain(id: string, changes: Partial<SimVmSpec>): SimDomain {
    const d = this.mustGet(id);
    if (d.state !== 'shutoff') throw new InvalidVmStateError('domain must be shut off to reconfigure');
    if (changes.disk_gb !== undefined && changes.disk_gb < d.spec.disk_gb) {
      throw new InvalidVmStateError('disks can only grow');
    }
    // A change left undefined is no change (`gpus: undefined` keeps the GPUs; `[]` removes them).
    const given = Object.fromEntries(Object.entries(changes).filter(([, v]) => v !== undefined));
    d.spec = { ...d.spec, ...given };
    if (changes.disk_gb !== undefined) d.disks[0] = { name: 'disk0.qcow2', size_gb: changes.disk_gb };
    if (changes.vnc_enabled !== undefined) {
      if (!changes.vnc_enabled) this.releaseVncPort(d.vnc_port);
      d.vnc_port = changes.vnc_enabled ? (d.vnc_port ?? this.freeVncPort()) : null;
    }
    if (changes.network?.mac_address) d.mac_address = changes.network.mac_address;
    this.domains.refresh(d);
    this.save(d);
    return d;
  }

  mustGet(id: string): SimDomain {
    const d = this.domains.get(id);
    if (!d) throw new VmNotFoundError(`domain ${id} not found`);
    return d;
  }

  capacity(): Capacity {
    return this.config.capacity ?? DEFAULT_CAPACITY;
  }

  /**
   * What a real host's VFIO would refuse: a GPU it does not have, one that has failed, or one
   * a running (or paused) domain holds already (the device is busy).
   */
  private gpuFaults(d: SimDomain): GpuFault[] {
    const faults: GpuFault[] = [];
    for (const { address } of d.spec.gpus ?? []) {
      // `d` itself is stopped here: a running domain's start returns before any check.
      const holder = [...this.domains.values()].find(
        (o) => (o.state === 'running' || o.state === 'paused') && o.spec.gpus?.some((g) => g.address === address),
      );
      const failed = this.faultyGpus.get(address);
      if (!this.config.gpus?.some((g) => g.address === address)) faults.push({ address, reason: 'the host has no such GPU' });
      else if (failed !== undefined) faults.push({ address, reason: failed });
      else if (holder) faults.push({ address, reason: `the device is busy: domain ${holder.id} holds it` });
    }
    return faults;
  }

  private setState(d: SimDomain, state: SimDomainState, reason: string): void {
    // A console as a guest would fill it: the hypervisor's events, and a boot banner at each boot.
    const at = new Date().toISOString();
    const lines = [`[${at}] ${state}: ${reason}`];
    if (state === 'running' && (reason === 'started' || reason === 'reset')) {
      lines.push(
        `[${at}] Hangar simulated guest ${d.spec.name} booting (${d.spec.cpu_cores} vCPU, ${d.spec.memory_mb} MiB)`,
        `${d.spec.name} login: `,
      );
    }
    d.console = [...(d.console ?? []), ...lines].slice(-CONSOLE_LINES);
    d.state = state;
    this.domains.refresh(d);
    this.save(d);
    for (const l of this.listeners) l(d, reason);
  }

  private crashRandomDomain(): void {
    const live = [...this.domains.values()].filter((d) => d.state === 'running');
    if (live.length === 0) return;
    const victim = live[Math.floor(this.faults.next() * live.length)]!;
    this.crash(victim.id, 'simulated crash');
  }

  private latency(): number {
    const l = this.config.latency_ms ?? 0;
    if (typeof l === 'number') return l;
    return l[0] + this.faults.next() * (l[1] - l[0]);
  }

  /** The lowest VNC port no domain has, taken. (Not a scan of every domain: a host may have thousands.) */
  private freeVncPort(): number {
    let port = this.lowestFreeVncPort;
    while (this.vncPorts.has(port)) port++;
    this.vncPorts.add(port);
    this.lowestFreeVncPort = port + 1;
    return port;
  }

  private releaseVncPort(port: number | null): void {
    if (port === null || !this.vncPorts.delete(port)) return;
    if (port < this.lowestFreeVncPort) this.lowestFreeVncPort = port;
  }

  private randomMac(): string {
    const byte = () =>
      Math.floor(this.faults.next() * 256)
        .toString(16)
        .padStart(2, '0');
    return `52:54:00:${byte()}:${byte()}:${byte()}`;
  }

  /** Kept before the call that changed a domain returns: a process killed the moment after still has it when it is back. */
  private save(d: SimDomain): void {
    this.store?.put(d);
  }

  private forget(id: string): void {
    this.store?.remove(id);
  }
}

function abortableSleep(ms: number, signal: AbortSignal): Promise<void>;
function abortableSleep(ms: number, signal: AbortSignal | undefined): Promise<void>;
function abortableSleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new CallAbortedError(reasonOf(signal)));
    const timer = Number.isFinite(ms) ? setTimeout(done, ms) : null;
    function done() {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }
    function onAbort() {
      if (timer) clearTimeout(timer);
      reject(new CallAbortedError(reasonOf(signal!)));
    }
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

function reasonOf(signal: AbortSignal): string {
  const r: unknown = signal.reason;
  return r instanceof Error ? r.message : typeof r === 'string' ? r : 'aborted';
}
