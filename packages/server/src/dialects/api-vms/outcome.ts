import type { VmActionResult } from '@hangar/core';
import type { Context as HonoContext } from 'hono';
import type { AppEnv } from '../../http/request-context.js';
import { type Outcome, outcomeOf } from '../operation-outcome.js';
import type { OperationView } from './shapes.js';

/**
 * A failed operation, as the earlier API reported libvirt's failures: 500 with
 * `Failed to <verb> VM: <reason>`. The request was fine; the work was not.
 */
export function failed(c: HonoContext<AppEnv>, verb: string, outcome: Extract<Outcome, { kind: 'failed' }>): Response {
  return c.json(
    { detail: `Failed to ${verb} VM: ${outcome.reason}`, operation_id: outcome.operation_id, request_id: c.get('info')?.requestId ?? null },
    500,
  );
}

/**
 * A VM operation's answer (start, stop, …, resize): what was done and that it succeeded, 202
 * while it still runs, 500 when it failed.
 */
export function operationAnswer(
  c: HonoContext<AppEnv>,
  op: { verb: string; past: string },
  result: VmActionResult,
  details: Record<string, unknown> = {},
): Response {
  const outcome = outcomeOf(result);
  if (outcome.kind === 'failed') return failed(c, op.verb, outcome);
  const { vm } = result;
  const pending = outcome.kind === 'pending';
  const body: OperationView = {
    id: vm.number,
    name: vm.name,
    operation: op.verb,
    status: pending ? 'pending' : 'success',
    message: pending ? `VM ${op.verb} still in progress` : `VM ${op.past} successfully`,
    details: pending
      ? { name: vm.name, status: vm.status, operation_id: outcome.operation_id }
      : { name: vm.name, status: op.past, ...details },
  };
  return c.json(body, pending ? 202 : 200);
}
