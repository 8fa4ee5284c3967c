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
