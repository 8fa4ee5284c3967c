import type { DomainState, DomainStateChange } from '../driver.js';
import { QmpClient, type QmpEvent } from './qmp.js';

/**
 * The driver's standing QMP connection to one running VM. It carries the driver's commands
 * and turns QEMU's events into state changes; when the socket closes QEMU is gone, and how
 * it went (the guest powered off, Hangar stopped it, or it died) decides what is reported.
 */
export class Monitor {
  /** Set while Hangar itself is stopping the VM: its exit is then no news. */
  expectingExit = false;
  private shutdown: { guest: boolean; reason: string } | null = null;

  constructor(
    readonly vmId: string,
    readonly pid: number,
    readonly qmp: QmpClient,
    private readonly report: (change: DomainStateChange) => void,
  ) {
    qmp.on('event', (e) => this.onEvent(e));
    qmp.once('close', () => this.onClose());
  }

  static async attach(vmId: string, pid: number, socket: string, report: (c: DomainStateChange) => void): Promise<Monitor> {
    return new Monitor(vmId, pid, await QmpClient.connect(socket), report);
  }

  get closed(): boolean {
    return this.qmp.isClosed;
  }

  execute<T = unknown>(command: string, args?: Record<string, unknown>, timeout_ms?: number): Promise<T> {
    return this.qmp.execute<T>(command, args, timeout_ms);
  }

  async status(): Promise<DomainState> {
    const s = await this.qmp.execute<{ status: string }>('query-status');
    return qmpStatusToState(s.status);
  }

  close(): void {
    this.qmp.removeAllListeners('close');
    this.qmp.close();
  }

  private emit(state: DomainState, reason: string, event?: string): void {
    this.report({ ref: this.vmId, state, reason, ...(event ? { event } : {}) });
  }

  private onEvent(e: QmpEvent): void {
    switch (e.event) {
      case 'SHUTDOWN': {
        const guest = e.data?.guest === true;
        this.shutdown = { guest, reason: String(e.data?.reason ?? 'unknown') };
        break;
      }
      case 'STOP':
        this.emit('paused', 'QEMU stopped the vCPUs (STOP event)', 'STOP');
        break;
      case 'RESUME':
        this.emit('running', 'QEMU resumed the vCPUs (RESUME event)', 'RESUME');
        break;
      case 'RESET':
        this.emit('running', e.data?.guest === true ? 'the guest reset itself (RESET event)' : 'the VM was reset (RESET event)', 'RESET');
        break;
      case 'POWERDOWN':
        this.emit('running', 'ACPI power button pressed (POWERDOWN event)', 'POWERDOWN');
        break;
      case 'GUEST_PANICKED':
        this.emit('crashed', 'the guest kernel panicked (GUEST_PANICKED event)', 'GUEST_PANICKED');
        break;
    }
  }

  private onClose(): void {
    if (this.expectingExit) return;
    if (this.shutdown?.guest) this.emit('stopped', `the guest powered off (${this.shutdown.reason})`, 'SHUTDOWN');
    else if (this.shutdown) this.emit('stopped', `QEMU shut down (${this.shutdown.reason})`, 'SHUTDOWN');
    else this.emit('crashed', `the QEMU process (pid ${this.pid}) exited unexpectedly`);
  }
}

export function qmpStatusToState(status: string): DomainState {
  switch (status) {
    case 'running':
      return 'running';
    case 'shutdown':
      return 'stopped';
    case 'internal-error':
    case 'guest-panicked':
      return 'crashed';
    default:
      // paused, suspended, io-error, prelaunch, migration states: the vCPUs are not running.
      return 'paused';
  }
}
