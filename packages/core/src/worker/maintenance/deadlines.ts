import { and, eq, inArray, isNotNull, isNull, lt, notInArray, or, sql } from 'drizzle-orm';
import type { HypervisorDriver } from '../../drivers/driver.js';
import type { Db } from '../../store/database.js';
import { hosts, operations, vms } from '../../store/schema.js';
import { NO_TELEMETRY, type Telemetry } from '../../telemetry.js';
import { finishOperation } from '../finish.js';
import { observe } from '../observe.js';

/** Operations past their deadline fail, and their VM takes the state the hypervisor shows. */
export async function expireOverdue(db: Db, drivers: Map<string, HypervisorDriver>, telemetry: Telemetry = NO_TELEMETRY): Promise<number> {
  const hostIds = [...drivers.keys()];
  const n = await expireUnclaimed(db, hostIds, telemetry);
  if (hostIds.length === 0) return n;
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
  let ended = n;
  for (const op of overdue) {
    const [vm] = await db.select({ domain_ref: vms.domain_ref }).from(vms).where(eq(vms.id, op.vm_id));
    const seen = await observe(op.host_id ? drivers.get(op.host_id) : undefined, vm?.domain_ref ?? null);
    const shows = seen.state ?? `unreachable (${seen.error ?? 'no domain'})`;
    const done = await finishOperation(
      db,
      op,
      null,
      {
        result: 'failed',
        error: `deadline exceeded: ${op.action} did not finish by ${op.deadline_at.toISOString()}; the hypervisor shows ${shows}`,
        outcome: { status: seen.status, data: { observed: seen.state, reconciler: true } },
      },
      telemetry,
    );
    if (done) ended++;
  }
  return ended;
}

/** How long past its deadline an agent's operation is left to its agent (which ends it itself) before the API does. */
const AGENT_GRACE_S = 30;

/**
 * Operations on agents' hosts (no driver in this process) that outlived their deadline and
 * that no agent holds: queued for a host that is gone, or left by an agent that died. They fail
 * with the VM `unknown`: nobody can ask the host what it shows; its agent's return settles it.
 */
async function expireUnclaimed(db: Db, localHostIds: string[], telemetry: Telemetry): Promise<number> {
  const overdue = await db
    .select({
      id: operations.id,
      action: operations.action,
      deadline_at: operations.deadline_at,
      vm_id: operations.vm_id,
      host: hosts.name,
    })
    .from(operations)
    .innerJoin(hosts, eq(hosts.id, operations.host_id))
    .where(
      and(
        inArray(operations.status, ['pending', 'running']),
        lt(operations.deadline_at, sql`now() - ${`${AGENT_GRACE_S} seconds`}::interval`),
        or(eq(operations.status, 'pending'), isNull(operations.lease_expires_at), lt(operations.lease_expires_at, sql`now()`)),
        isNotNull(hosts.agent_credential_hash),
        localHostIds.length ? notInArray(operations.host_id, localHostIds) : undefined,
      ),
    );
  let n = 0;
  for (const op of overdue) {
    const done = await finishOperation(
      db,
      op,
      null,
      {
        result: 'failed',
        error: `deadline exceeded: ${op.action} did not finish by ${op.deadline_at.toISOString()}; host ${op.host} did not carry it out (its agent is offline or gone)`,
        // A create that never ran left no domain; anything else may have happened, or not.
        outcome: { status: op.action === 'create' ? 'error' : 'unknown', data: { reconciler: true } },
      },
      telemetry,
    );
    if (done) n++;
  }
  return n;
}
