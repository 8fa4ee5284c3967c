import { appendEvents } from '../services/events.js';
import type { Db } from '../store/database.js';
import { deferOperation } from '../store/operation-rows.js';
import type { OperationRow } from '../store/schema.js';

/**
 * Leaves an operation `owner` holds claimed by nobody until `delay_ms` has passed (its lease
 * then expires and it is claimed again, as after a takeover), and says why in its events.
 * False when `owner` no longer held it.
 */
export function deferWithReason(
  db: Db,
  op: Pick<OperationRow, 'id' | 'vm_id' | 'project_id' | 'action' | 'attempts'>,
  owner: string,
  delay_ms: number,
  reason: string,
): Promise<boolean> {
  return db.transaction(async (tx) => {
    if (!(await deferOperation(tx, op.id, owner, new Date(Date.now() + delay_ms)))) return false;
    await appendEvents(tx, [
      {
        vm_id: op.vm_id,
        project_id: op.project_id,
        operation_id: op.id,
        type: 'operation.retrying',
        message: `${op.action} will be tried again in ${Math.round(delay_ms / 100) / 10} s: ${reason}`,
        data: { attempt: op.attempts, delay_ms, reason },
      },
    ]);
    return true;
  });
}
