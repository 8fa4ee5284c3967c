import type { HardwareChanges } from '../../domain/vm.js';
import {
  DriverError,
  type CallOptions,
  type DefinedDomain,
  type DomainInfo,
  type DomainSpec,
  type DomainState,
  type DomainStateChange,
  type HostInventory,
  type HypervisorDriver,
} from '../driver.js';
import { Client } from './client.js';
import {
  AuthenticationError,
  CallAbortedError,
  NoResourcesAvailableError,
  VmNotFoundError,
} from './errors.js';
import { SimulatedHypervisor, type SimDomainState, type SimulatorConfig } from './hypervisor.js';

const STATE: Record<SimDomainState, DomainState> = {
  shutoff: 'stopped',
  running: 'running',
  paused: 'paused',
  crashed: 'crashed',
};

/** The HypervisorDriver over the simulated hypervisor's Client. */
export class SimulatedDriver implements HypervisorDriver {
  readonly kind = 'simulated';
  readonly client: Client;

  constructor(opts: { client?: Client; hypervisor?: SimulatedHypervisor; config?: SimulatorConfig } = {}) {
    this.client = opts.client ?? new Client({ hypervisor: opts.hypervisor ?? new SimulatedHypervisor(opts.config) });
  }

  get hypervisor(): SimulatedHypervisor {
    return this.client.hypervisor;
  }

  inventory(opts?: CallOptions): Promise<HostInventory> {
    return wrap(() => this.client.inventory(opts));
  }

  define(spec: DomainSpec, opts?: CallOptions): Promise<DefinedDomain> {
    return wrap(async () => {
      const vm = await this.client.createVm({ ...spec, vm_id: spec.vm_id }, opts);
      return { ref: vm.id, vnc_port: vm.vnc_port, mac_address: vm.mac_address };
    });
  }

  undefine(ref: string, _params: { delete_disks: boolean }, opts?: CallOptions): Promise<void> {
    return wrap(() => this.client.deleteVm(ref, opts));
  }

  start(ref: string, opts?: CallOptions): Promise<void> {
    return wrap(async () => void (await this.client.startVm(ref, opts)));
  }

  shutdown(ref: string, params: { timeout_ms: number }, opts?: CallOptions): Promise<{ forced: boolean }> {
    return wrap(() => this.client.stopVm(ref, params, opts));
  }

  kill(ref: string, opts?: CallOptions): Promise<void> {
    return wrap(() => this.client.killVm(ref, opts));
  }

  reboot(ref: string, params: { timeout_ms: number }, opts?: CallOptions): Promise<{ forced: boolean }> {
    return wrap(() => this.client.rebootVm(ref, params, opts));
  }

  reset(ref: string, opts?: CallOptions): Promise<void> {
    return wrap(() => this.client.resetVm(ref, opts));
  }

  pause(ref: string, opts?: CallOptions): Promise<void> {
    return wrap(() => this.client.pauseVm(ref, opts));
  }

  resume(ref: string, opts?: CallOptions): Promise<void> {
    return wrap(() => this.client.resumeVm(ref, opts));
  }

  reconfigure(ref: string, changes: HardwareChanges, opts?: CallOptions): Promise<Partial<DefinedDomain>> {
    return wrap(async () => {
      const vm = await this.client.reconfigureVm(ref, changes, opts);
      return { vnc_port: vm.vnc_port, mac_address: vm.mac_address };
    });
  }

  async state(ref: string, opts?: CallOptions): Promise<DomainState> {
    try {
      return STATE[(await this.client.getVm(ref, opts)).state];
    } catch (err) {
      if (err instanceof VmNotFoundError) return 'missing';
      throw translate(err);
    }
  }

  list(opts?: CallOptions): Promise<DomainInfo[]> {
    return wrap(async () =>
      (await this.client.listVms(opts)).map((d) => ({ ref: d.id, vm_id: d.vm_id, state: STATE[d.state] })),
    );
  }

  watch(listener: (change: DomainStateChange) => void): () => void {
    return this.hypervisor.onStateChange((d, reason) => listener({ ref: d.id, state: STATE[d.state], reason }));
  }

  async close(): Promise<void> {
    this.hypervisor.flush();
  }
}

async function wrap<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw translate(err);
  }
}

function translate(err: unknown): unknown {
  if (err instanceof DriverError) return err;
  if (err instanceof AuthenticationError) return new DriverError('unavailable', `hypervisor refused the API key: ${err.message}`);
  if (err instanceof NoResourcesAvailableError) return new DriverError('no_resources', err.message);
  if (err instanceof VmNotFoundError) return new DriverError('not_found', err.message);
  if (err instanceof CallAbortedError) return new DriverError('aborted', err.message);
  if (err instanceof Error) return new DriverError('failed', err.message);
  return err;
}
