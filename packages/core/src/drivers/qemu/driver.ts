import { mkdir, readdir, rm, stat } from 'node:fs/promises';
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
  type HostInventory,
  type HypervisorDriver,
  type ScreenEndpoint,
} from '../driver.js';
import { gpuNodeCpus } from '../gpus/numa.js';
import { preflightGpus } from '../gpus/preflight.js';
import { scanGpus } from '../gpus/sysfs-scan.js';
import { randomMac } from '../mac-address.js';
import { moveFile } from '../move-file.js';
import { type AccelChoice, type AccelSetting, chooseAccel } from './accel.js';
import { type DirectBoot, launchArgv, qemuArgs } from './command-line.js';
import { type DomainRecord, readRecord, writeRecord } from './domain-record.js';
import { checkBinaries, hostCapacity } from './host.js';
import { launchQemu } from './launch.js';
import { MAX_SOCKET_PATH, vmLayout } from './layout.js';
import { Monitor } from './monitor.js';
import { isVmProcess, killHard, readPidfile, removeQuietly, waitForExit } from './process.js';
import { QemuImg } from './qemu-img.js';

export interface QemuDriverOptions {
  /** Where VM directories live (`<data dir>/vms`). */
  root: string;
  binary?: string;
  qemuImg?: string;
  accel?: AccelSetting;
  /** Boot every VM from this kernel instead of its disk or CD-ROM. */
  boot?: DirectBoot;
  /** Where sysfs is mounted, for the GPU scan and passthrough. */
  sysfsRoot?: string;
  /** Where /dev is, for /dev/vfio (a fixture directory in tests). */
  devRoot?: string;
  /** The limits QEMU inherits (`/proc/self/limits`), and this process's credentials (`/proc/self/status`): fixtures in tests. */
  limitsPath?: string;
  statusPath?: string;
  /** Bind a VM's GPUs to vfio-pci at start when another driver holds them (HANGAR_QEMU_GPU_REBIND). */
  gpuRebind?: boolean;
  /** How long QEMU gets to open its QMP socket after it is spawned. */
  startTimeoutMs?: number;
}

const POWERDOWN_REPEAT_MS = 2_000;

/**
 * Runs each VM as its own `qemu-system-x86_64` process, in its own session so it outlives
 * the control plane. Everything about a VM is in its directory: `domain.json` (what to run),
 * the disk, QMP and serial sockets, the console log and QEMU's pidfile. A new driver adopts
 * the VMs it finds running and reports those that died while nobody watched.
 */
export class QemuDriver implements HypervisorDriver {
  readonly kind = 'qemu';
  readonly root: string;
  readonly binary: string;
  private readonly img: QemuImg;
  private readonly monitors = new Map<string, Monitor>();
  private readonly listeners = new Set<(c: DomainStateChange) => void>();
  /** Changes found before anyone listened (VMs that died while the control plane was down). */
  private backlog: DomainStateChange[] = [];
  private readonly ready: Promise<void>;
  private accelChoice: Promise<AccelChoice> | null = null;
  private binaryCheck: { at: number; problem: Promise<string | null> } | null = null;
  /** Serializes changes to records (a define racing a reconfigure of the same VM). */
  private recordLock: Promise<unknown> = Promise.resolve();

  constructor(private readonly opts: QemuDriverOptions) {
    this.root = opts.root;
    this.binary = opts.binary ?? 'qemu-system-x86_64';
    this.img = new QemuImg(opts.qemuImg ?? 'qemu-img');
    this.ready = this.adopt();
    this.ready.catch(() => {});
  }

  /** The accelerator VMs get, and why; decided once per driver. */
  async describe(): Promise<Record<string, unknown>> {
    return { ...(await this.accel()), root: this.root };
  }

  accel(): Promise<AccelChoice> {
    this.accelChoice ??= chooseAccel(this.opts.accel ?? 'auto', this.binary);
    return this.accelChoice;
  }

  async inventory(): Promise<HostInventory> {
    const problem = await this.problem();
    return {
      capacity: await hostCapacity(this.root),
      gpus: await scanGpus(this.opts.sysfsRoot, { devRoot: this.opts.devRoot, rebind: this.opts.gpuRebind ?? false }),
      ...(problem ? { unavailable: problem } : {}),
    };
  }

  async define(spec: DomainSpec, opts?: CallOptions): Promise<DefinedDomain> {
    const base = spec.base_image;
    return this.defineWith(spec, async (disk) => {
      if (!base) return this.img.create(disk, spec.disk_gb, opts?.signal);
      await this.img.convert(base.path, base.format, disk, opts?.signal);
      await this.growTo(disk, spec.disk_gb, opts?.signal);
    }).catch(fail('defining the domain'));
  }

  async importDomain(spec: DomainSpec, disks: DiskFile[], opts?: CallOptions): Promise<DefinedDomain> {
    if (disks.length !== 1) throw new DriverError('failed', `the QEMU driver runs VMs with one disk; the archive has ${disks.length}`);
    const [src] = disks as [DiskFile];
    return this.defineWith(spec, async (disk) => {
      if (src.format === 'qcow2') await moveFile(src.path, disk);
      else await this.img.convert(src.path, 'raw', disk, opts?.signal);
      await this.growTo(disk, spec.disk_gb, opts?.signal);
    }).catch(fail('importing the domain'));
  }

  async exportDisks(ref: string): Promise<DiskFile[]> {
    await this.ready;
    await this.record(ref);
    if (await this.livePid(ref)) throw new DriverError('failed', 'the VM is running: stop it before exporting');
    const disk = vmLayout(this.root, ref).disk;
    return [{ name: 'disk0.qcow2', path: disk, format: 'qcow2', size: (await stat(disk)).size }];
  }

  /** A disk smaller than the VM's size (an image, an import) grows to it; a larger one is an error. */
  private async growTo(disk: string, size_gb: number, signal?: AbortSignal): Promise<void> {
    const { virtual_size } = await this.img.info(disk);
    if (virtual_size > size_gb * 2 ** 30) throw new Error(`the disk image is ${virtual_size} bytes, larger than disk_gb ${size_gb}`);
    if (virtual_size < size_gb * 2 ** 30) await this.img.resize(disk, size_gb, signal);
  }

  private async defineWith(spec: DomainSpec, makeDisk: (path: string) => Promise<void>): Promise<DefinedDomain> {
    await this.ensureUsable();
    return this.withRecordLock(async () => {
      const files = vmLayout(this.root, spec.vm_id);
      const existing = await readRecord(files.domain);
      if (existing) return { ref: spec.vm_id, vnc_port: null, mac_address: existing.network.mac_address };
      if (files.serial.length > MAX_SOCKET_PATH) {
        throw new DriverError(
          'failed',
          `the data directory path is too long for QEMU's sockets (${files.serial.length} > ${MAX_SOCKET_PATH} bytes): choose a shorter HANGAR_DATA_DIR`,
        );
      }
      await mkdir(files.dir, { recursive: true });
      try {
        await makeDisk(files.disk);
      } catch (err) {
        await rm(files.dir, { recursive: true, force: true });
        throw err;
      }
      const record: DomainRecord = {
        vm_id: spec.vm_id,
        name: spec.name,
        cpu_cores: spec.cpu_cores,
        memory_mb: spec.memory_mb,
        disk_gb: spec.disk_gb,
        network: {
          type: spec.network.type,
          bridge_name: spec.network.bridge_name,
          mac_address: spec.network.mac_address ?? randomMac(),
        },
        vnc: spec.vnc_enabled,
        iso_path: spec.iso_path ?? null,
        gpus: assignments(spec.gpus),
        created_at: new Date().toISOString(),
      };
      // The record is written last: a directory without one is an unfinished define, redone on retry.
      await writeRecord(files.domain, record);
      return { ref: spec.vm_id, vnc_port: null, mac_address: record.network.mac_address };
    });
  }

  async undefine(ref: string, params: { delete_disks: boolean }, opts?: CallOptions): Promise<void> {
    await this.ready;
    const files = vmLayout(this.root, ref);
    await this.kill(ref, opts);
    if (params.delete_disks) {
      await rm(files.dir, { recursive: true, force: true });
    } else {
      await removeQuietly(files.domain, files.qmp, files.serial, files.pidfile);
    }
  }

  async start(ref: string, opts?: CallOptions): Promise<void> {
    await this.ensureUsable();
    const record = await this.record(ref);
    if (await this.livePid(ref)) return;
    const files = vmLayout(this.root, ref);
    const gpus = record.gpus ?? [];
    const hostdevs = await preflightGpus(gpus, {
      sysfsRoot: this.opts.sysfsRoot,
      devRoot: this.opts.devRoot,
      limitsPath: this.opts.limitsPath,
      statusPath: this.opts.statusPath,
      memory_mb: record.memory_mb,
      rebind: this.opts.gpuRebind ?? false,
    });
    const cpus = await gpuNodeCpus(this.opts.sysfsRoot ?? '/sys', gpus);
    const { accel } = await this.accel();
    await removeQuietly(files.pidfile, files.qmp, files.serial);
    const [program, ...args] = launchArgv(this.binary, qemuArgs(record, files, { accel, boot: this.opts.boot, hostdevs }), cpus);
    const { pid, qmp } = await launchQemu(program!, args, files, {
      timeout_ms: this.opts.startTimeoutMs ?? 30_000,
      signal: opts?.signal,
    });
    this.track(new Monitor(ref, pid, qmp, (c) => this.report(c)));
  }

  async shutdown(ref: string, params: { timeout_ms: number }, opts?: CallOptions): Promise<{ forced: boolean }> {
    await this.ready;
    await this.record(ref);
    const pid = await this.livePid(ref);
    if (!pid) return { forced: false };
    const monitor = await this.monitor(ref);
    monitor.expectingExit = true;
    // A paused guest cannot see the power button.
    if ((await monitor.status().catch(() => 'running')) === 'paused') await monitor.execute('cont').catch(() => {});
    const deadline = Date.now() + params.timeout_ms;
    while (Date.now() < deadline) {
      if (opts?.signal?.aborted) throw new DriverError('aborted', 'stop was cancelled');
      // Pressed again while waiting: a guest still booting misses the first press.
      await monitor.execute('system_powerdown').catch(() => {});
      const wait = Math.min(POWERDOWN_REPEAT_MS, deadline - Date.now());
      if (await waitForExit(pid, ref, wait, opts?.signal)) {
        await this.forget(ref);
        return { forced: false };
      }
    }
    await this.kill(ref, opts);
    return { forced: true };
  }

  async kill(ref: string, _opts?: CallOptions): Promise<void> {
    await this.ready;
    const files = vmLayout(this.root, ref);
    const pid = await this.livePid(ref);
    if (pid) {
      const monitor = await this.monitor(ref).catch(() => null);
      if (monitor) {
        monitor.expectingExit = true;
        await monitor.execute('quit', undefined, 2_000).catch(() => {});
      }
      if (!(await waitForExit(pid, ref, 3_000))) {
        killHard(pid);
        await waitForExit(pid, ref, 5_000);
      }
    }
    await this.forget(ref);
    await removeQuietly(files.pidfile, files.qmp, files.serial);
  }

  async reboot(ref: string, params: { timeout_ms: number }, opts?: CallOptions): Promise<{ forced: boolean }> {
    const r = await this.shutdown(ref, params, opts);
    await this.start(ref, opts);
    return r;
  }

  async reset(ref: string): Promise<void> {
    await (await this.runningMonitor(ref)).execute('system_reset');
  }

  async pause(ref: string): Promise<void> {
    await (await this.runningMonitor(ref)).execute('stop');
  }

  async resume(ref: string): Promise<void> {
    await (await this.runningMonitor(ref)).execute('cont');
  }

  async reconfigure(ref: string, changes: DomainChanges, opts?: CallOptions): Promise<Partial<DefinedDomain>> {
    await this.ready;
    return this.withRecordLock(async () => {
      const record = await this.record(ref);
      if (await this.livePid(ref)) throw new DriverError('failed', 'the VM is running: hardware changes need it stopped');
      const files = vmLayout(this.root, ref);
      const next: DomainRecord = { ...record };
      if (changes.cpu_cores !== undefined) next.cpu_cores = changes.cpu_cores;
      if (changes.memory_mb !== undefined) next.memory_mb = changes.memory_mb;
      if (changes.disk_gb !== undefined && changes.disk_gb !== record.disk_gb) {
        if (changes.disk_gb < record.disk_gb) {
          throw new DriverError('failed', `disks only grow: ${record.disk_gb} GB cannot become ${changes.disk_gb} GB`);
        }
        await this.img.resize(files.disk, changes.disk_gb, opts?.signal).catch(fail('resizing the disk'));
        next.disk_gb = changes.disk_gb;
      }
      if (changes.network) {
        next.network = {
          type: changes.network.type,
          bridge_name: changes.network.bridge_name,
          mac_address: changes.network.mac_address ?? record.network.mac_address,
        };
      }
      if (changes.vnc_enabled !== undefined) next.vnc = changes.vnc_enabled;
      if (changes.iso_path !== undefined) next.iso_path = changes.iso_path;
      if (changes.gpus !== undefined) next.gpus = assignments(changes.gpus);
      await writeRecord(files.domain, next);
      return { vnc_port: null, mac_address: next.network.mac_address };
    });
  }

  async state(ref: string): Promise<DomainState> {
    await this.ready;
    const files = vmLayout(this.root, ref);
    if (!(await readRecord(files.domain))) return 'missing';
    const pid = await readPidfile(files.pidfile);
    if (pid === null) return 'stopped';
    if (!(await isVmProcess(pid, ref))) return 'crashed';
    try {
      return await (await this.monitor(ref)).status();
    } catch (err) {
      // The process may have exited between the two looks.
      if (!(await isVmProcess(pid, ref))) return this.state(ref);
      throw new DriverError('failed', `QEMU (pid ${pid}) does not answer on QMP: ${(err as Error).message}`);
    }
  }

  async list(): Promise<DomainInfo[]> {
    await this.ensureUsable();
    const ids = await this.domainIds();
    return Promise.all(ids.map(async (id) => ({ ref: id, vm_id: id, state: await this.state(id) })));
  }

  watch(listener: (change: DomainStateChange) => void): () => void {
    this.listeners.add(listener);
    void this.ready.then(() => {
      const backlog = this.backlog;
      this.backlog = [];
      for (const c of backlog) listener(c);
    });
    return () => this.listeners.delete(listener);
  }

  /** Lets go of the VMs without stopping them: they keep running for the next control plane. */
  async close(): Promise<void> {
    await this.ready.catch(() => {});
    for (const m of this.monitors.values()) m.close();
    this.monitors.clear();
  }

  /** The end of what the guest wrote to its serial console (QEMU logs it beside the disk). */
  async consoleLog(ref: string, params: { max_bytes: number }): Promise<ConsoleLog> {
    await this.ready;
    if (!(await readRecord(vmLayout(this.root, ref).domain))) throw new DriverError('not_found', `no QEMU domain ${ref}`);
    return readConsoleTail(vmLayout(this.root, ref).console, params.max_bytes);
  }

  /**
   * The VM's VNC server: the `vnc.sock` QEMU listens on in the VM's private directory, while
   * the VM runs with a display (`vnc_enabled`); null otherwise.
   */
  async screenEndpoint(ref: string): Promise<ScreenEndpoint | null> {
    await this.ready;
    const record = await this.record(ref);
    if (!record.vnc || (await this.livePid(ref)) === null) return null;
    return { path: vmLayout(this.root, ref).vnc };
  }

  /** The serial console's unix socket, for a console client (or a test typing into the guest). */
  serialSocket(ref: string): string {
    return vmLayout(this.root, ref).serial;
  }

  /** Runs a QMP command on a running VM. */
  async qmp<T = unknown>(ref: string, command: string, args?: Record<string, unknown>): Promise<T> {
    return (await this.runningMonitor(ref)).execute<T>(command, args);
  }

  /** The pid of the VM's QEMU, if it runs. */
  async pid(ref: string): Promise<number | null> {
    await this.ready;
    return this.livePid(ref);
  }

  // ---- internals ----

  private async adopt(): Promise<void> {
    for (const id of await this.domainIds()) {
      const files = vmLayout(this.root, id);
      const pid = await readPidfile(files.pidfile);
      if (pid === null) continue;
      if (await isVmProcess(pid, id)) {
        const m = await Monitor.attach(id, pid, files.qmp, (c) => this.report(c)).catch(() => null);
        if (m) this.track(m);
      } else {
        this.backlog.push({
          ref: id,
          state: 'crashed',
          reason: `the QEMU process (pid ${pid}) exited while Hangar was not running`,
        });
      }
    }
  }

  private async domainIds(): Promise<string[]> {
    let entries: string[];
    try {
      entries = await readdir(this.root);
    } catch {
      return [];
    }
    const ids = await Promise.all(
      entries.map(async (id) => ((await readRecord(vmLayout(this.root, id).domain).catch(() => null)) ? id : null)),
    );
    return ids.filter((id): id is string => id !== null);
  }

  private report(change: DomainStateChange): void {
    if (this.listeners.size === 0) {
      this.backlog.push(change);
      return;
    }
    for (const l of this.listeners) l(change);
  }

  private track(m: Monitor): void {
    this.monitors.get(m.vmId)?.close();
    this.monitors.set(m.vmId, m);
    m.qmp.once('close', () => {
      if (this.monitors.get(m.vmId) === m) this.monitors.delete(m.vmId);
    });
  }

  private async forget(ref: string): Promise<void> {
    const m = this.monitors.get(ref);
    if (m) {
      m.expectingExit = true;
      m.close();
      this.monitors.delete(ref);
    }
  }

  private async record(ref: string): Promise<DomainRecord> {
    const record = await readRecord(vmLayout(this.root, ref).domain);
    if (!record) throw new DriverError('not_found', `no QEMU domain ${ref} on this host`);
    return record;
  }

  private async livePid(ref: string): Promise<number | null> {
    const pid = await readPidfile(vmLayout(this.root, ref).pidfile);
    return pid !== null && (await isVmProcess(pid, ref)) ? pid : null;
  }

  private async monitor(ref: string): Promise<Monitor> {
    const current = this.monitors.get(ref);
    if (current && !current.closed) return current;
    const pid = await this.livePid(ref);
    if (!pid) throw new DriverError('failed', `VM ${ref} is not running`);
    const m = await Monitor.attach(ref, pid, vmLayout(this.root, ref).qmp, (c) => this.report(c)).catch((err: Error) => {
      throw new DriverError('failed', `cannot reach QEMU's monitor for ${ref}: ${err.message}`);
    });
    this.track(m);
    return m;
  }

  private async runningMonitor(ref: string): Promise<Monitor> {
    await this.ready;
    await this.record(ref);
    return this.monitor(ref);
  }

  private withRecordLock<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.recordLock.catch(() => {}).then(fn);
    this.recordLock = next;
    return next;
  }

  /** Why QEMU cannot be used, or null; checked at most every 10 s. */
  private problem(): Promise<string | null> {
    if (!this.binaryCheck || Date.now() - this.binaryCheck.at > 10_000) {
      this.binaryCheck = { at: Date.now(), problem: checkBinaries(this.binary, this.opts.qemuImg ?? 'qemu-img') };
    }
    return this.binaryCheck.problem;
  }

  private async ensureUsable(): Promise<void> {
    await this.ready;
    const problem = await this.problem();
    if (problem) throw new DriverError('unavailable', problem);
  }
}

/** Only what the driver uses of an assignment, whatever else the caller's objects carry. */
const assignments = (gpus: GpuAssignment[] | undefined): GpuAssignment[] =>
  (gpus ?? []).map((g) => ({ address: g.address, numa_node: g.numa_node }));

function fail(what: string) {
  return (err: Error): never => {
    if (err instanceof DriverError) throw err;
    throw new DriverError('failed', `${what}: ${err.message}`);
  };
}
