import { DriverError, type DriverErrorKind } from '../drivers/driver.js';

/**
 * What the worker does when a driver call fails, by the error's kind:
 * - `retry_later`: the host cannot take calls right now (its hypervisor is down or restarting,
 *   its binary is missing): the operation keeps its place and is tried again after a pause, up
 *   to the worker's attempts and within its deadline;
 * - `fail`: trying again here would end the same way (the domain is gone, the host has no room,
 *   the call was cancelled or refused); the operation fails now, with the state the host shows.
 * A fleet will give `no_resources` a third answer: place the VM on another host.
 */
export const ON_DRIVER_ERROR: Record<DriverErrorKind, 'retry_later' | 'fail'> = {
  unavailable: 'retry_later',
  no_resources: 'fail',
  not_found: 'fail',
  aborted: 'fail',
  failed: 'fail',
};

export function shouldRetryLater(err: unknown): boolean {
  return err instanceof DriverError && ON_DRIVER_ERROR[err.kind] === 'retry_later';
}

/** The pause before attempt `attempt + 1`: 1 s, 2 s, 4 s, … at most 30 s. */
export function retryDelayMs(attempt: number, base_ms = 1_000): number {
  return Math.min(30_000, base_ms * 2 ** Math.max(0, attempt - 1));
}
