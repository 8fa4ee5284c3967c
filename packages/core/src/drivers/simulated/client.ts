import type { GpuDevice } from '../../domain/gpu.js';
import type { Capacity } from '../../domain/host.js';
import { AuthenticationError } from './errors.js';
import type { HypervisorMethod } from './faults.js';
import { type CallOptions, defaultApiKey, type SimDomain, SimulatedHypervisor, type SimVmSpec } from './hypervisor.js';

export interface SimulatorClientOptions {
  /** Defaults to the HYPERVISOR_API_KEY environment variable, as the original SDK reads its key. */
  api_key?: string;
  /** The hypervisor to talk to; a fresh one when omitted. */
  hypervisor?: SimulatedHypervisor;
}

export interface VmInfo {
  id: string;
  vm_id: string | null;
  name: string;
  state: SimDomain['state'];
  cpu_cores: number;
  memory_mb: number;
  disk_gb: number;
  vnc_port: number | null;
  mac_address: string;
  disks: { name: string; size_gb: number }[];
}

const info = (d: SimDomain): VmInfo => ({
  id: d.id,
  vm_id: d.vm_id,
  name: d.spec.name,
  state: d.state,
  cpu_cores: d.spec.cpu_cores,
  memory_mb: d.spec.memory_mb,
  disk_gb: d.spec.disk_gb,
  vnc_port: d.vnc_port,
  mac_address: d.mac_address,
  disks: d.disks.map((x) => ({ ...x })),
});

/**
 * The simulated hypervisor's client, mirroring the hypervisor SDK's `Client` (renamed so it does not clash with `@hangar/sdk`'s):
 * `authenticate()`, `create_vm` / `createVm`, `delete_vm` / `deleteVm` and the rest, with
 * the API key taken from the environment. Every method takes an optional `{ signal }`.
 */
export class SimulatorClient {
  readonly hypervisor: SimulatedHypervisor;
  private readonly apiKey: string;
  private authenticated = false;

  constructor(opts: SimulatorClientOptions = {}) {
    this.apiKey = opts.api_key ?? defaultApiKey();
    this.hypervisor = opts.hypervisor ?? new SimulatedHypervisor({ api_key: this.apiKey });
  }

  /** Checks the API key with the hypervisor. Other calls authenticate on first use. */
  async authenticate(opts: CallOptions = {}): Promise<{ authenticated: true }> {
    await this.hypervisor.call('authenticate', this.apiKey, null, opts, () => undefined);
    this.authenticated = true;
    return { authenticated: true };
  }

  get isAuthenticated(): boolean {
    return this.authenticated;
  }

  createVm(spec: SimVmSpec, opts: CallOptions = {}): Promise<VmInfo> {
    return this.run('create_vm', null, opts, () => info(this.hypervisor.createDomain(spec)));
  }

  deleteVm(id: string, opts: CallOptions = {}): Promise<void> {
    return this.run('delete_vm', id, opts, () => this.hypervisor.deleteDomain(id));
  }

  startVm(id: string, opts: CallOptions = {}): Promise<VmInfo> {
    return this.run('start_vm', id, opts, () => {
      this.hypervisor.startDomain(id);
      return info(this.hypervisor.mustGet(id));
    });
  }

  /** ACPI power-off; the domain is forced off if it has not stopped after `timeout_ms`. */
  stopVm(id: string, params: { timeout_ms: number }, opts: CallOptions = {}): Promise<{ forced: boolean }> {
    return this.run('stop_vm', id, opts, (signal) => this.hypervisor.shutdownDomain(id, params.timeout_ms, signal));
  }

  killVm(id: string, opts: CallOptions = {}): Promise<void> {
    return this.run('kill_vm', id, opts, () => this.hypervisor.killDomain(id));
  }

  rebootVm(id: string, params: { timeout_ms: number }, opts: CallOptions = {}): Promise<{ forced: boolean }> {
    return this.run('reboot_vm', id, opts, async (signal) => {
      const r = await this.hypervisor.shutdownDomain(id, params.timeout_ms, signal);
      this.hypervisor.startDomain(id);
      return r;
    });
  }

  resetVm(id: string, opts: CallOptions = {}): Promise<void> {
    return this.run('reset_vm', id, opts, () => this.hypervisor.resetDomain(id));
  }

  pauseVm(id: string, opts: CallOptions = {}): Promise<void> {
    return this.run('pause_vm', id, opts, () => this.hypervisor.pauseDomain(id));
  }

  resumeVm(id: string, opts: CallOptions = {}): Promise<void> {
    return this.run('resume_vm', id, opts, () => this.hypervisor.resumeDomain(id));
  }

  reconfigureVm(id: string, changes: Partial<SimVmSpec>, opts: CallOptions = {}): Promise<VmInfo> {
    return this.run('reconfigure_vm', id, opts, () => info(this.hypervisor.reconfigureDomain(id, changes)));
  }

  getVm(id: string, opts: CallOptions = {}): Promise<VmInfo> {
    return this.run('get_vm', id, opts, () => info(this.hypervisor.mustGet(id)));
  }

  /** What the domain wrote to its serial console, oldest line first. */
  getConsoleLog(id: string, opts: CallOptions = {}): Promise<string> {
    return this.run('get_console_log', id, opts, () => (this.hypervisor.mustGet(id).console ?? []).map((l) => `${l}\n`).join(''));
  }

  listVms(opts: CallOptions = {}): Promise<VmInfo[]> {
    return this.run('list_vms', null, opts, () => [...this.hypervisor.domains.values()].map(info));
  }

  inventory(opts: CallOptions = {}): Promise<{ capacity: Capacity; gpus: GpuDevice[] }> {
    return this.run('inventory', null, opts, () => ({
      capacity: this.hypervisor.capacity(),
      gpus: this.hypervisor.gpus(),
    }));
  }

  // The original SDK's snake_case names.
  readonly create_vm = this.createVm.bind(this);
  readonly delete_vm = this.deleteVm.bind(this);
  readonly start_vm = this.startVm.bind(this);
  readonly stop_vm = this.stopVm.bind(this);
  readonly kill_vm = this.killVm.bind(this);
  readonly reboot_vm = this.rebootVm.bind(this);
  readonly reset_vm = this.resetVm.bind(this);
  readonly pause_vm = this.pauseVm.bind(this);
  readonly resume_vm = this.resumeVm.bind(this);
  readonly reconfigure_vm = this.reconfigureVm.bind(this);
  readonly get_vm = this.getVm.bind(this);
  readonly get_console_log = this.getConsoleLog.bind(this);
  readonly list_vms = this.listVms.bind(this);

  private async run<T>(
    method: HypervisorMethod,
    domain: string | null,
    opts: CallOptions,
    work: (signal: AbortSignal) => T | Promise<T>,
  ): Promise<T> {
    if (!this.apiKey) throw new AuthenticationError('no API key: set HYPERVISOR_API_KEY');
    if (!this.authenticated) await this.authenticate(opts);
    return this.hypervisor.call(method, this.apiKey, domain, opts, work);
  }
}
