import type { GpuFault } from '../../domain/gpu.js';

/** Errors of the simulated hypervisor's client, named as the hypervisor SDK names them. */
export class HypervisorError extends Error {
  override name = 'HypervisorError';
}
export class AuthenticationError extends HypervisorError {
  override name = 'AuthenticationError';
}
/** The hypervisor cannot place or run the domain right now (the original's capacity error). */
export class NoResourcesAvailableError extends HypervisorError {
  override name = 'NoResourcesAvailableError';
}
export class VmNotFoundError extends HypervisorError {
  override name = 'VmNotFoundError';
}
export class InvalidVmStateError extends HypervisorError {
  override name = 'InvalidVmStateError';
}
/** The call was abandoned: its deadline passed or the domain was killed under it. */
export class CallAbortedError extends HypervisorError {
  override name = 'CallAbortedError';
}
/** The hypervisor cannot be reached (its host is down or restarting). */
export class HypervisorUnreachableError extends HypervisorError {
  override name = 'HypervisorUnreachableError';
}
/** A domain cannot start because GPUs it is given cannot be passed through; `faults` says which and why. */
export class GpuUnavailableError extends HypervisorError {
  override name = 'GpuUnavailableError';
  constructor(readonly faults: GpuFault[]) {
    super(`GPUs cannot be passed through: ${faults.map((f) => `${f.address}: ${f.reason}`).join('; ')}`);
  }
}
