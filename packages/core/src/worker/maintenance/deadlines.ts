import { and, eq, inArray, lt } from 'drizzle-orm';
import type { HypervisorDriver } from '../../drivers/driver.js';
import type { Db } from '../../store/database.js';
import { operations, vms } from '../../store/schema.js';
import { finishOperation } from '../finish.js';
import { observe } from '../observe.js';

/** Operations past their deadline fail, and their VM takes the state the hypervisor shows. */
export async function expireOverdue(db: Db, drivers: Map<string, HypervisorDriver>): Promise<number> {
  const hostIds = [...drivers.keys()];
  if (hostIds.length === 0) return 0;
  const overdue = await db
    .select({
      id: operations.id,
      action: operations.action,
      deadline_at: operations.deadline_at,
      vm_id: operations.vm_id,
      host_id: operations.host_id,
    })
    .from(operations)
    .where(
      and(inArray(operations.status, ['pending', 'running']), lt(operations.deadline_at, new Date()), inArray(operations.host_id, hostIds)),
    );
  let n = 0;
  for (const op of overdue) {
    const [vm] = await db.select({ domain_ref: vms.domain_ref }).from(vms).where(eq(vms.id, op.vm_id));
    const seen = await observe(op.host_id ? drivers.get(op.host_id) : undefined, vm?.domain_ref ?? null);
    const shows = seen.state ?? `unreachable (${seen.error ?? 'no domain'})`;
    const ended = await finishOperation(db, op, null, {
      result: 'failed',
      error: `deadline exceeded: ${op.action} did not finish by ${op.deadline_at.toISOString()}; the hypervisor shows ${shows}`,
      outcome: { status: seen.status, data: { observed: seen.state, reconciler: true } },
    });
    if (ended) n++;
  }
  return n;
}
