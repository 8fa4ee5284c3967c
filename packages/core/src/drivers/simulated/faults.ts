import { seededRandom } from './rng.js';

export const HYPERVISOR_METHODS = [
  'authenticate',
  'create_vm',
  'delete_vm',
  'start_vm',
  'stop_vm',
  'kill_vm',
  'reboot_vm',
  'reset_vm',
  'pause_vm',
  'resume_vm',
  'reconfigure_vm',
  'get_vm',
  'get_console_log',
  'list_vms',
  'inventory',
] as const;
export type HypervisorMethod = (typeof HYPERVISOR_METHODS)[number];

/** Probabilities, per call, that the call fails or hangs until its caller gives up. */
export interface FaultRates {
  fail?: number;
  hang?: number;
}

export interface FaultConfig extends FaultRates {
  /** Probability, per call, that one running domain crashes. */
  crash?: number;
  /** Rates for single methods, overriding the general ones. */
  methods?: Partial<Record<HypervisorMethod, FaultRates>>;
}

/** A fault aimed at the next `times` calls of `method` (on `domain`, when given). */
export interface InjectedFault {
  method: HypervisorMethod;
  /** `unreachable`: the hypervisor cannot be reached at all (a transient outage of the host). */
  kind: 'fail' | 'hang' | 'unreachable';
  domain?: string;
  times?: number;
  message?: string;
}

export type FaultVerdict = { kind: 'none' } | { kind: 'fail' | 'unreachable'; message: string } | { kind: 'hang' };

/** Decides, reproducibly from a seed, which calls misbehave. */
export class FaultPlan {
  private readonly random: () => number;
  private queue: (InjectedFault & { times: number })[] = [];

  constructor(
    seed: number,
    private config: FaultConfig = {},
  ) {
    this.random = seededRandom(seed);
  }

  configure(config: FaultConfig): void {
    this.config = config;
  }

  inject(fault: InjectedFault): void {
    this.queue.push({ ...fault, times: fault.times ?? 1 });
  }

  clear(): void {
    this.queue = [];
    this.config = {};
  }

  verdict(method: HypervisorMethod, domain: string | null): FaultVerdict {
    const aimed = this.queue.find((f) => f.method === method && (!f.domain || f.domain === domain));
    if (aimed) {
      aimed.times -= 1;
      if (aimed.times <= 0) this.queue = this.queue.filter((f) => f !== aimed);
      return aimed.kind === 'hang' ? { kind: 'hang' } : { kind: aimed.kind, message: aimed.message ?? `injected failure in ${method}` };
    }
    const rates = { ...this.config, ...this.config.methods?.[method] };
    if (rates.fail && this.random() < rates.fail) return { kind: 'fail', message: `simulated failure in ${method}` };
    if (rates.hang && this.random() < rates.hang) return { kind: 'hang' };
    return { kind: 'none' };
  }

  /** Whether a crash strikes on this call. */
  crashNow(): boolean {
    return !!this.config.crash && this.random() < this.config.crash;
  }

  /** A number in [0, 1) from the same seeded stream (latency jitter, MACs). */
  next(): number {
    return this.random();
  }
}
