import { and, eq, sql } from 'drizzle-orm';
import { announce } from './after-commit.js';
import type { Db, Tx } from './database.js';
import { EVENTS_WRITTEN_CHANNEL } from './event-sequencer.js';
import { fromRaw } from './raw-rows.js';
import { events, type OperationRow, operations, type VmRow, vms } from './schema.js';

/**
 * The verbs that write operation rows: queueing, claiming with a lease, renewing and releasing
 * it, deferring, and ending. Lock an operation only after its VM (`lockVm`).
 */

export type NewOperationRow = typeof operations.$inferInsert;

export async function lockOperation(tx: Tx, id: string): Promise<OperationRow | undefined> {
  const [row] = await tx.select().from(operations).where(eq(operations.id, id)).for('no key update');
  return row;
}

export async function insertOperation(tx: Tx, values: NewOperationRow): Promise<OperationRow> {
  const [row] = await tx.insert(operations).values(values).returning();
  return row!;
}

export interface OperationEnd {
  status: 'succeeded' | 'failed' | 'cancelled';
  error: string | null;
}

/** What ending an operation writes to its row: its result, and no lease. */
export function endedOperation(end: OperationEnd, now = new Date()) {
  return { status: end.status, error: end.error, finished_at: now, updated_at: now, lease_owner: null, lease_expires_at: null };
}

/** Ends an operation (succeeded, failed, cancelled) and drops its lease. */
export async function endOperation(tx: Tx, id: string, end: OperationEnd): Promise<void> {
  await tx.update(operations).set(endedOperation(end)).where(eq(operations.id, id));
}

/** A claimed operation, and whether it was taken from a holder whose lease had expired. */
export interface ClaimedOperation {
  op: OperationRow;
  /**
   * Another worker held it (its lease ran out: it died or hung). An operation queued, deferred
   * for a retry or released at a shutdown has no holder, and is not taken over.
   */
  taken_over: boolean;
}

/**
 * The oldest claimable operation on one of these hosts (queued, or running with an expired
 * lease), claimed for `owner` and announced with its started (or retried) event, in one statement.
 */
export async function claimNextOperation(db: Db, owner: string, hostIds: string[], lease_ms: number): Promise<ClaimedOperation | null> {
  const [claimed] = await claimOperations(db, owner, hostIds, lease_ms, 1);
  return claimed ?? null;
}

/** A claimed operation with its VM as the claim found it. */
export interface ClaimedWork extends ClaimedOperation {
  vm: VmRow | null;
}

/**
 * Up to `limit` of the oldest claimable operations on these hosts, oldest first, each with its
 * VM, claimed and announced in one statement: a worker with room for many takes them in one
 * round trip instead of one each.
 */
export async function claimOperations(db: Db, owner: string, hostIds: string[], lease_ms: number, limit: number): Promise<ClaimedWork[]> {
  if (hostIds.length === 0 || limit < 1) return [];
  // The candidates are read in FROM (not a subquery in WHERE) so that each one's holder before
  // the claim can be returned beside the claimed row.
  // Rows come back as JSON: a prepared statement's result keeps its type when a migration adds a column.
  const rows = await db.execute<{ op: Record<string, unknown>; previous_owner: string | null; vm: Record<string, unknown> | null }>(sql`
    WITH claimed AS (
      UPDATE ${operations} SET
        status = 'running',
        lease_owner = ${owner},
        lease_expires_at = now() + ${`${lease_ms} milliseconds`}::interval,
        attempts = ${operations.attempts} + 1,
        started_at = COALESCE(${operations.started_at}, now()),
        updated_at = now()
      FROM (
        SELECT id, lease_owner AS previous_owner FROM ${operations}
        WHERE status IN ('pending', 'running')
          AND (status = 'pending' OR lease_expires_at < now())
          AND host_id IN ${hostIds}
        ORDER BY created_at
        FOR UPDATE SKIP LOCKED
        LIMIT ${limit}) AS candidate
      WHERE ${operations.id} = candidate.id
      RETURNING ${operations}.*, candidate.previous_owner),
    announced AS (
      INSERT INTO ${events} (vm_id, project_id, operation_id, type, message)
      SELECT vm_id, project_id, id,
        CASE WHEN attempts > 1 THEN 'operation.retried' ELSE 'operation.started' END,
        action || CASE WHEN attempts > 1 THEN ' taken over (attempt ' || attempts || ')' ELSE ' started' END
          || ' by ' || ${owner}
      FROM claimed)
    SELECT row_to_json(claimed) AS op, claimed.previous_owner, (SELECT row_to_json(v) FROM ${vms} v WHERE v.id = claimed.vm_id) AS vm
    FROM claimed ORDER BY claimed.created_at`);
  if (rows.length === 0) return [];
  await announce(db, EVENTS_WRITTEN_CHANNEL, '');
  return rows.map((row) => ({
    op: fromRaw(operations, row.op),
    taken_over: row.previous_owner != null,
    vm: row.vm ? fromRaw(vms, row.vm) : null,
  }));
}

/** Extends an operation's lease if `owner` still holds it; false when it was lost (cancelled, taken over). */
export async function renewLease(db: Tx, opId: string, owner: string, lease_ms: number): Promise<boolean> {
  const rows = await db
    .update(operations)
    .set({ lease_expires_at: sql`now() + ${`${lease_ms} milliseconds`}::interval` })
    .where(and(eq(operations.id, opId), eq(operations.lease_owner, owner), eq(operations.status, 'running')))
    .returning({ id: operations.id });
  return rows.length > 0;
}

/** Gives up every lease `owner` holds at once (a worker shutting down): the next worker need not wait for them to expire. */
export async function releaseLeases(db: Tx, owner: string): Promise<void> {
  await db
    .update(operations)
    .set({ lease_expires_at: new Date(0), lease_owner: null })
    .where(and(eq(operations.lease_owner, owner), eq(operations.status, 'running')));
}

/**
 * Leaves an operation `owner` holds claimed by nobody until `until` (its lease then expires and
 * any worker claims it again). False when `owner` no longer held it.
 */
export async function deferOperation(tx: Tx, opId: string, owner: string, until: Date): Promise<boolean> {
  const rows = await tx
    .update(operations)
    .set({ lease_owner: null, lease_expires_at: until, updated_at: new Date() })
    .where(and(eq(operations.id, opId), eq(operations.lease_owner, owner), eq(operations.status, 'running')))
    .returning({ id: operations.id });
  return rows.length > 0;
}
