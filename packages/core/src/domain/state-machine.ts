import { z } from 'zod';
import {
  isTransitional,
  STABLE_STATUSES,
  type StableStatus,
  TRANSITIONAL_STATUSES,
  type TransitionalStatus,
  VM_STATUSES,
  type VmStatus,
} from './status.js';

/**
 * What a failed operation leaves behind: a fixed status, or `observed`, meaning the worker
 * asks the driver what the domain really is and records that.
 */
export type FailureOutcome = StableStatus | 'observed';

export interface ActionRule {
  /** Statuses the action may start from. */
  from: readonly VmStatus[];
  /** Extra statuses accepted only when the caller forces the action (delete). */
  forcedFrom?: readonly VmStatus[];
  /** Status held while the operation runs; null for actions that need no operation. */
  during: TransitionalStatus | null;
  onSuccess: StableStatus | 'same';
  onFailure: FailureOutcome | 'same';
  /** Whether the action cancels an operation already in flight instead of waiting for it. */
  preempts: boolean;
  /** Default deadline of the operation in seconds (stop and restart add their own grace). */
  deadline_s: number;
}

const live = ['running', 'paused'] as const;
const anyButDeleted = VM_STATUSES.filter((s) => s !== 'deleted');
const stableButDeleted = STABLE_STATUSES.filter((s) => s !== 'deleted');

/**
 * The VM state machine (docs/architecture.md), as data. Every check and every VM's
 * `allowed_actions` is derived from this one table.
 */
export const STATE_MACHINE = {
  create: { from: [], during: 'provisioning', onSuccess: 'stopped', onFailure: 'error', preempts: false, deadline_s: 600 },
  start: { from: ['stopped'], during: 'starting', onSuccess: 'running', onFailure: 'observed', preempts: false, deadline_s: 300 },
  stop: { from: live, during: 'stopping', onSuccess: 'stopped', onFailure: 'observed', preempts: false, deadline_s: 60 },
  force_stop: {
    from: ['running', 'paused', 'starting', 'stopping', 'restarting', 'unknown'],
    during: 'stopping',
    onSuccess: 'stopped',
    onFailure: 'error',
    preempts: true,
    deadline_s: 60,
  },
  restart: { from: ['running'], during: 'restarting', onSuccess: 'running', onFailure: 'observed', preempts: false, deadline_s: 300 },
  reset: { from: live, during: 'restarting', onSuccess: 'running', onFailure: 'observed', preempts: false, deadline_s: 60 },
  pause: { from: ['running'], during: 'pausing', onSuccess: 'paused', onFailure: 'observed', preempts: false, deadline_s: 60 },
  resume: { from: ['paused'], during: 'resuming', onSuccess: 'running', onFailure: 'observed', preempts: false, deadline_s: 60 },
  update_hardware: { from: ['stopped'], during: 'updating', onSuccess: 'stopped', onFailure: 'stopped', preempts: false, deadline_s: 600 },
  update_metadata: { from: anyButDeleted, during: null, onSuccess: 'same', onFailure: 'same', preempts: false, deadline_s: 0 },
  export: { from: ['stopped'], during: 'exporting', onSuccess: 'stopped', onFailure: 'stopped', preempts: false, deadline_s: 86_400 },
  delete: {
    from: stableButDeleted,
    forcedFrom: TRANSITIONAL_STATUSES.filter((s) => s !== 'deleting'),
    during: 'deleting',
    onSuccess: 'deleted',
    onFailure: 'error',
    preempts: true,
    deadline_s: 600,
  },
} as const satisfies Record<string, ActionRule>;

export type VmAction = keyof typeof STATE_MACHINE;
export const VM_ACTIONS = Object.keys(STATE_MACHINE) as VmAction[];
export const VmAction = z.enum(VM_ACTIONS as [VmAction, ...VmAction[]]);

/** Actions that run as an operation (everything but metadata updates). */
export type OperationAction = Exclude<VmAction, 'update_metadata'>;
export const OPERATION_ACTIONS = VM_ACTIONS.filter((a) => STATE_MACHINE[a].during !== null) as OperationAction[];
export const OperationAction = z.enum(OPERATION_ACTIONS as [OperationAction, ...OperationAction[]]);

export function rule(action: VmAction): ActionRule {
  return STATE_MACHINE[action];
}

/** Whether `action` may begin from `status` (with `force` for delete's forced sources). */
export function canPerform(action: VmAction, status: VmStatus, force = false): boolean {
  const r = rule(action);
  if (r.from.includes(status)) return true;
  return force && (r.forcedFrom?.includes(status) ?? false);
}

/**
 * The actions a caller may start from `status`, without forcing: what a VM shows as
 * `allowed_actions` (never `create`, which starts from no status).
 */
export function allowedActions(status: VmStatus): VmAction[] {
  return VM_ACTIONS.filter((a) => canPerform(a, status));
}

export type Decision =
  /** Begin the action: a new operation (or, for metadata, a plain write). */
  | { kind: 'proceed'; preempt: boolean }
  /** The same action is already in flight: hand back that operation. */
  | { kind: 'in_flight' }
  /** The VM is already where the action would take it: nothing to do. */
  | { kind: 'noop' }
  /** Not allowed now; `retryable` when an operation in flight may change that. */
  | { kind: 'conflict'; retryable: boolean };

/**
 * Decides what a request for `action` does to a VM in `status`, with `inFlight` the action
 * of the operation now running on it (if any). Repeating an action is idempotent: the same
 * action in flight returns that operation, and an action whose outcome already holds is a no-op.
 */
export function decide(action: VmAction, status: VmStatus, inFlight: OperationAction | null, force = false): Decision {
  const r = rule(action);
  if (inFlight === action && status === r.during) return { kind: 'in_flight' };
  if (canPerform(action, status, force)) {
    return { kind: 'proceed', preempt: r.preempts && isTransitional(status) };
  }
  if (r.onSuccess === status && r.from.length > 0) return { kind: 'noop' };
  return { kind: 'conflict', retryable: isTransitional(status) };
}
