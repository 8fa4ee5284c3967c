import { ACTIONS } from '../actions/registry.js';
import { errors } from '../domain/errors.js';
import type { VmActionResult } from '../domain/operation.js';
import type { Scope } from '../domain/project.js';
import { allowedActions, decide, type OperationAction, rule } from '../domain/state-machine.js';
import type { VmStatus } from '../domain/status.js';
import type { Tx } from '../store/database.js';
import { toOperation, toVm } from '../store/mappers.js';
import { notifyChange, notifyWork } from '../store/notifier.js';
import { endOperation, insertOperation, lockOperation } from '../store/operation-rows.js';
import type { OperationRow, VmRow } from '../store/schema.js';
import { changeVm } from '../store/vm-rows.js';
import { releaseEarly } from './delete-capacity.js';
import { appendEvents } from './events.js';
import { settleGpusForStart } from './vm-gpus.js';

export interface BeginOptions {
  force?: boolean;
  expected_version?: number;
  /** Stored on the operation for the worker (timeouts, hardware changes). */
  input?: Record<string, unknown>;
  /** Seconds added to the action's deadline (a graceful stop's own timeout). */
  extra_deadline_s?: number;
  actor?: string;
  /**
   * The caller runs the operation itself (an export streaming to its HTTP client): it starts
   * `running` under this lease instead of being queued for a worker. Should the caller die,
   * the lease expires and a worker ends it.
   */
  claim?: { owner: string; lease_ms: number };
}

export function checkVersion(vm: VmRow, expected: number | undefined): void {
  if (expected !== undefined && vm.version !== expected) throw errors.versionConflict(expected, vm.version);
}

export async function inFlightOperation(tx: Tx, vm: VmRow): Promise<OperationRow | null> {
  if (!vm.current_operation_id) return null;
  return (await lockOperation(tx, vm.current_operation_id)) ?? null;
}

export function conflictError(action: OperationAction, vm: VmRow, inFlight: OperationRow | null, retryable: boolean) {
  const status = vm.status as VmStatus;
  const details = {
    status,
    allowed_actions: allowedActions(status),
    operation_id: inFlight?.id ?? null,
    retryable,
  };
  if (retryable && inFlight) {
    const hint = rule(action).forcedFrom?.includes(status) ? '; pass force=true to cancel it' : '';
    return errors.operationInProgress(
      `Cannot ${ACTIONS[action].verb} VM ${vm.id}: it is ${status} while operation ${inFlight.id} (${inFlight.action}) runs${hint}`,
      details,
    );
  }
  const allowed = details.allowed_actions.length ? details.allowed_actions.join(', ') : 'nothing';
  return errors.invalidState(`Cannot ${ACTIONS[action].verb} VM ${vm.id} while it is ${status} (allowed: ${allowed})`, details);
}

/**
 * The heart of every VM action, inside the caller's transaction with the VM row locked:
 * asks the state machine, then either hands back the operation already doing this, does
 * nothing, refuses, or records a new operation (cancelling a preempted one) with its events.
 */
export async function beginAction(
  tx: Tx,
  _scope: Scope,
  vm: VmRow,
  action: OperationAction,
  opts: BeginOptions = {},
): Promise<VmActionResult> {
  checkVersion(vm, opts.expected_version);
  const inFlight = await inFlightOperation(tx, vm);
  const decision = decide(action, vm.status as VmStatus, (inFlight?.action as OperationAction) ?? null, opts.force);
  switch (decision.kind) {
    case 'in_flight':
      return { vm: toVm(vm), operation: toOperation(inFlight!) };
    case 'noop':
      return { vm: toVm(vm), operation: null };
    case 'conflict':
      throw conflictError(action, vm, inFlight, decision.retryable);
  }

  const now = new Date();
  const r = rule(action);
  if (decision.preempt && inFlight) {
    await endOperation(tx, inFlight.id, { status: 'cancelled', error: `cancelled: preempted by ${action}` });
  }
  const deadline = new Date(now.getTime() + (r.deadline_s + (opts.extra_deadline_s ?? 0)) * 1000);
  const gpus = action === 'start' ? await settleGpusForStart(tx, vm) : {};
  const early = action === 'delete' ? await releaseEarly(tx, vm, inFlight ?? null) : {};
  const op = await insertOperation(tx, {
    vm_id: vm.id,
    project_id: vm.project_id,
    host_id: vm.host_id,
    action,
    input: { ...(opts.input ?? {}), ...gpus, ...early },
    deadline_at: deadline,
    created_at: now,
    updated_at: now,
    ...(opts.claim
      ? {
          status: 'running',
          lease_owner: opts.claim.owner,
          lease_expires_at: new Date(now.getTime() + opts.claim.lease_ms),
          attempts: 1,
          started_at: now,
        }
      : {}),
  });
  const during = r.during!;
  const updated = await changeVm(tx, vm, { status: during, current_operation_id: op.id }, { operation_id: op.id, operation_open: true });
  const base = { vm_id: vm.id, project_id: vm.project_id };
  await appendEvents(tx, [
    ...(decision.preempt && inFlight
      ? [
          {
            ...base,
            operation_id: inFlight.id,
            type: 'operation.cancelled' as const,
            message: `${inFlight.action} cancelled: preempted by ${action}`,
            data: { preempted_by: op.id },
          },
        ]
      : []),
    {
      ...base,
      operation_id: op.id,
      type: 'operation.queued',
      message: `${action} requested${opts.actor ? ` by ${opts.actor}` : ''}`,
      data: opts.input ?? {},
    },
    {
      ...base,
      operation_id: op.id,
      type: 'vm.status_changed',
      message: `${vm.status} -> ${during}`,
      from_status: vm.status as VmStatus,
      to_status: during,
    },
    ...(opts.claim
      ? [{ ...base, operation_id: op.id, type: 'operation.started' as const, message: `${action} started by ${opts.claim.owner}` }]
      : []),
  ]);
  if (inFlight && decision.preempt) await notifyChange(tx, { vm_id: vm.id, operation_id: inFlight.id, status: 'cancelled' });
  if (!opts.claim) await notifyWork(tx, vm.host_id);
  return { vm: toVm(updated), operation: toOperation(op) };
}
