import { chmod, copyFile, open, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PRIVATE_FILE_MODE, privateDir } from '../../files/private.js';
import { detectFormat } from '../../images/disk-format.js';
import { type ConsoleLog, tailOf } from '../console-log.js';
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
  GpuPreflightError,
  type HostInventory,
  type HypervisorDriver,
  type ScreenEndpoint,
} from '../driver.js';
import { moveFile } from '../move-file.js';
import { SimulatorClient } from './client.js';
import {
  AuthenticationError,
  CallAbortedError,
  GpuUnavailableError,
  HypervisorUnreachableError,
  NoResourcesAvailableError,
  VmNotFoundError,
} from './errors.js';
import { FakeScreen } from './fake-screen.js';
import { type SimDomainState, SimulatedHypervisor, type SimulatorConfig } from './hypervisor.js';

const STATE: Record<SimDomainState, DomainState> = {
  shutoff: 'stopped',
  running: 'running',
  paused: 'paused',
  crashed: 'crashed',
};

/** The HypervisorDriver over the simulated hypervisor's SimulatorClient. */
export class SimulatedDriver implements HypervisorDriver {
  readonly kind = 'simulated';
  readonly client: SimulatorClient;

  /** Where the domains' disk files live: sparse files, made when first needed (an export). */
  readonly diskDir: string;

  /** Bytes in a simulated disk's "GB": a real GiB by default; tests shrink it to keep exports quick. */
  readonly bytesPerGb: number;

  /** What a VNC client sees of a running simulated domain. */
  readonly screen = new FakeScreen();

  constructor(
    opts: {
      client?: SimulatorClient;
      hypervisor?: SimulatedHypervisor;
      config?: SimulatorConfig;
      disk_dir?: string;
      bytes_per_gb?: number;
    } = {},
  ) {
    this.client = opts.client ?? new SimulatorClient({ hypervisor: opts.hypervisor ?? new SimulatedHypervisor(opts.config) });
    this.diskDir = opts.disk_dir ?? join(tmpdir(), 'hangar-sim-disks');
    this.bytesPerGb = opts.bytes_per_gb ?? 2 ** 30;
  }

  private diskPath(ref: string): string {
    return join(this.diskDir, `${ref}.disk`);
  }

  /** The domain's disk file, created sparse at its size if it does not exist yet. */
  private async ensureDisk(ref: string, size_gb: number): Promise<string> {
    const path = this.diskPath(ref);
    await privateDir(this.diskDir);
    const fh = await open(path, 'a', PRIVATE_FILE_MODE);
    try {
      if ((await fh.stat()).size === 0) await fh.truncate(size_gb * this.bytesPerGb);
    } finally {
      await fh.close();
    }
    return path;
  }

  get hypervisor(): SimulatedHypervisor {
    return this.client.hypervisor;
  }

  inventory(opts?: CallOptions): Promise<HostInventory> {
    return wrap(() => this.client.inventory(opts));
  }

  define(spec: DomainSpec, opts?: CallOptions): Promise<DefinedDomain> {
    return wrap(async () => {
      const { base_image, ...rest } = spec;
      const vm = await this.client.createVm({ ...rest, vm_id: spec.vm_id }, opts);
      if (base_image) {
        await privateDir(this.diskDir);
        await copyFile(base_image.path, this.diskPath(vm.id));
        await chmod(this.diskPath(vm.id), PRIVATE_FILE_MODE);
      }
      return { ref: vm.id, vnc_port: vm.vnc_port, mac_address: vm.mac_address };
    });
  }

  importDomain(spec: DomainSpec, disks: DiskFile[], opts?: CallOptions): Promise<DefinedDomain> {
    return wrap(async () => {
      if (disks.length !== 1) throw new DriverError('failed', `simulated domains have one disk; the archive has ${disks.length}`);
      const d = await this.define({ ...spec, base_image: null }, opts);
      await privateDir(this.diskDir);
      await moveFile(disks[0]!.path, this.diskPath(d.ref));
      return d;
    });
  }

  exportDisks(ref: string, opts?: CallOptions): Promise<DiskFile[]> {
    return wrap(async () => {
      const vm = await this.client.getVm(ref, opts);
      if (vm.state !== 'shutoff') throw new DriverError('failed', `the domain is ${vm.state}: stop it before exporting`);
      const path = await this.ensureDisk(ref, this.hypervisor.mustGet(ref).spec.disk_gb);
      const format = (await detectFormat(path, 'disk')) as 'raw' | 'qcow2';
      return [{ name: format === 'qcow2' ? 'disk0.qcow2' : 'disk0.img', path, format, size: (await stat(path)).size }];
    });
  }

  undefine(ref: string, params: { delete_disks: boolean }, opts?: CallOptions): Promise<void> {
    return wrap(async () => {
      await this.client.deleteVm(ref, opts);
      if (params.delete_disks) await rm(this.diskPath(ref), { force: true });
    });
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

  reconfigure(ref: string, changes: DomainChanges, opts?: CallOptions): Promise<Partial<DefinedDomain>> {
    return wrap(async () => {
      const vm = await this.client.reconfigureVm(ref, changes, opts);
      if (changes.disk_gb !== undefined) {
        // A raw disk that exists grows with the VM (sparse); one not made yet is made at its size.
        const size = await stat(this.diskPath(ref)).then(
          (s) => s.size,
          () => null,
        );
        if (size !== null && size < changes.disk_gb * this.bytesPerGb && (await detectFormat(this.diskPath(ref), 'disk')) === 'raw') {
          const fh = await open(this.diskPath(ref), 'r+');
          await fh.truncate(changes.disk_gb * this.bytesPerGb).finally(() => fh.close());
        }
      }
      return { vnc_port: vm.vnc_port, mac_address: vm.mac_address };
    });
  }

  async consoleLog(ref: string, params: { max_bytes: number }, opts?: CallOptions): Promise<ConsoleLog> {
    const text = await wrap(() => this.client.getConsoleLog(ref, opts));
    const bytes = Buffer.from(text);
    return tailOf(bytes, bytes.length, params.max_bytes);
  }

  /** A running (or paused) domain with VNC shows the simulator's blank screen (fake-screen.ts). */
  async screenEndpoint(ref: string, opts?: CallOptions): Promise<ScreenEndpoint | null> {
    const vm = await wrap(() => this.client.getVm(ref, opts));
    if ((vm.state !== 'running' && vm.state !== 'paused') || vm.vnc_port === null) return null;
    return { host: '127.0.0.1', port: await this.screen.port() };
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
    return wrap(async () => (await this.client.listVms(opts)).map((d) => ({ ref: d.id, vm_id: d.vm_id, state: STATE[d.state] })));
  }

  watch(listener: (change: DomainStateChange) => void): () => void {
    return this.hypervisor.onStateChange((d, reason) => listener({ ref: d.id, state: STATE[d.state], reason }));
  }

  async close(): Promise<void> {
    await this.screen.close();
    this.hypervisor.close();
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
  if (err instanceof GpuUnavailableError) return new GpuPreflightError(err.faults);
  if (err instanceof AuthenticationError) return new DriverError('unavailable', `hypervisor refused the API key: ${err.message}`);
  if (err instanceof HypervisorUnreachableError) return new DriverError('unavailable', err.message);
  if (err instanceof NoResourcesAvailableError) return new DriverError('no_resources', err.message);
  if (err instanceof VmNotFoundError) return new DriverError('not_found', err.message);
  if (err instanceof CallAbortedError) return new DriverError('aborted', err.message);
  if (err instanceof Error) return new DriverError('failed', err.message);
  return err;
}
