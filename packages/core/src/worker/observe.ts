import type { StableStatus } from '../domain/status.js';
import type { DomainState, HypervisorDriver } from '../drivers/driver.js';

/** What the VM's status is, given what the hypervisor reports for its domain. */
export function statusFromDomain(state: DomainState): StableStatus {
  switch (state) {
    case 'running':
      return 'running';
    case 'paused':
      return 'paused';
    case 'stopped':
    case 'crashed':
      return 'stopped';
    case 'missing':
      return 'error';
  }
}

export interface Observation {
  status: StableStatus;
  state: DomainState | null;
  /** Why the hypervisor could not be asked. */
  error?: string;
}

/** Asks the driver for the domain's real state; an unreachable hypervisor means `unknown`. */
export async function observe(driver: HypervisorDriver | undefined, ref: string | null): Promise<Observation> {
  if (!ref) return { status: 'error', state: null };
  if (!driver) return { status: 'unknown', state: null, error: 'no driver for this host' };
  try {
    const state = await driver.state(ref, { signal: AbortSignal.timeout(10_000) });
    return { status: statusFromDomain(state), state };
  } catch (err) {
    return { status: 'unknown', state: null, error: err instanceof Error ? err.message : String(err) };
  }
}
