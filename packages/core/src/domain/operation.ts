import { z } from 'zod';
import { Timestamp, Uuid } from './fields.js';
import { OperationAction } from './state-machine.js';
import { Vm } from './vm.js';

export const OPERATION_STATUSES = ['pending', 'running', 'succeeded', 'failed', 'cancelled'] as const;
export const OperationStatus = z.enum(OPERATION_STATUSES);
export type OperationStatus = z.infer<typeof OperationStatus>;

export const FINISHED_OPERATION_STATUSES: readonly OperationStatus[] = ['succeeded', 'failed', 'cancelled'];

export function isFinished(status: OperationStatus): boolean {
  return FINISHED_OPERATION_STATUSES.includes(status);
}

export const Operation = z
  .object({
    id: Uuid,
    vm_id: Uuid,
    project_id: Uuid,
    action: OperationAction,
    status: OperationStatus,
    /** What the action was asked to do (for example the hardware changes of an update). */
    input: z.record(z.string(), z.unknown()),
    /** Why it failed or was cancelled. */
    error: z.string().nullable(),
    attempts: z.int(),
    deadline_at: Timestamp,
    created_at: Timestamp,
    updated_at: Timestamp,
    started_at: Timestamp.nullable(),
    finished_at: Timestamp.nullable(),
  })
  .meta({ id: 'Operation' });
export type Operation = z.infer<typeof Operation>;

const IdempotencyKey = z
  .string()
  .min(1)
  .max(255)
  .regex(/^[\x21-\x7e]+$/, { message: 'idempotency keys are printable ASCII without spaces' });

/** Options every mutation takes. */
export const MutationOptions = z.strictObject({
  /** Same key + same input replays the first answer; same key + other input is IDEMPOTENCY_MISMATCH. */
  idempotency_key: IdempotencyKey.optional(),
  /** Refuse with VERSION_CONFLICT unless the VM is at this version. */
  expected_version: z.int().min(1).optional(),
});
export type MutationOptions = z.input<typeof MutationOptions>;

export const ListOperationsQuery = z.strictObject({
  vm_id: Uuid.optional(),
  status: OperationStatus.optional(),
  limit: z.int().min(1).max(100).default(20),
  cursor: z.string().max(200).optional(),
});
export type ListOperationsQuery = z.input<typeof ListOperationsQuery>;

/** What every VM action answers: the VM as it now is, and the operation carrying the action out (null when there was nothing to do). */
export const VmActionResult = z.object({ vm: Vm, operation: Operation.nullable() }).meta({ id: 'VmActionResult' });
export type VmActionResult = z.infer<typeof VmActionResult>;
