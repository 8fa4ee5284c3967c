import { z } from 'zod';

/** States a VM rests in: no operation is in flight. */
export const STABLE_STATUSES = ['stopped', 'running', 'paused', 'error', 'unknown', 'deleted'] as const;

/** States that exist only while an operation on the VM is in flight. */
export const TRANSITIONAL_STATUSES = [
  'provisioning',
  'starting',
  'stopping',
  'restarting',
  'pausing',
  'resuming',
  'updating',
  'exporting',
  'deleting',
] as const;

export const VM_STATUSES = [...STABLE_STATUSES, ...TRANSITIONAL_STATUSES] as const;

export const VmStatus = z.enum(VM_STATUSES);
export type VmStatus = z.infer<typeof VmStatus>;
export type StableStatus = (typeof STABLE_STATUSES)[number];
export type TransitionalStatus = (typeof TRANSITIONAL_STATUSES)[number];

const stable = new Set<string>(STABLE_STATUSES);

export function isStable(status: VmStatus): status is StableStatus {
  return stable.has(status);
}

export function isTransitional(status: VmStatus): status is TransitionalStatus {
  return !stable.has(status);
}
