import type { ActionDefinition } from '../actions/action.js';
import { ACTIONS, type ActionOptions, type RequestableAction } from '../actions/registry.js';
import type { MutationOptions, VmActionResult } from '../domain/operation.js';
import type { Scope } from '../domain/project.js';
import type { Db } from '../store/database.js';
import { beginAction } from './begin-action.js';
import { idempotent } from './idempotency.js';
import { parse, parseId } from './validate.js';
import { requireVm } from './vm-queries.js';

/**
 * A requestable action on one VM (start, stop, delete, …): validate its options, then in one
 * transaction lock the VM and begin the action, as its definition plans it.
 */
export async function requestAction<A extends RequestableAction>(
  db: Db,
  scope: Scope,
  id: unknown,
  action: A,
  rawOpts?: ActionOptions<A>,
): Promise<VmActionResult> {
  const { request } = ACTIONS[action] as ActionDefinition;
  const vmId = parseId(id, 'vm id');
  const opts = parse(request!.options, rawOpts ?? {}, 'options') as Record<string, unknown>;
  const { idempotency_key, expected_version, ...rest } = opts as MutationOptions & Record<string, unknown>;
  return db.transaction((tx) =>
    idempotent(tx, scope, idempotency_key, { action, vm_id: vmId, opts: rest, expected_version }, async () => {
      const vm = await requireVm(tx, scope, vmId, true);
      return beginAction(tx, scope, vm, action, { ...request!.plan(opts), expected_version, actor: scope.actor });
    }),
  );
}
