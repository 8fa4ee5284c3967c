import { and, eq, type SQL, sql } from 'drizzle-orm';
import type { z } from 'zod';
import { errors } from '../domain/errors.js';
import { ListOperationsQuery, type Operation } from '../domain/operation.js';
import type { Scope } from '../domain/project.js';
import type { OperationPage } from '../domain/requests.js';
import type { Vm } from '../domain/vm.js';
import type { Db } from '../store/database.js';
import { toOperation, toVm } from '../store/mappers.js';
import { newestFirst } from '../store/order.js';
import { perDatabase } from '../store/per-database.js';
import { operations, vms } from '../store/schema.js';
import { decodeCursor, encodeCursor } from './cursor.js';
import { parse, parseId } from './validate.js';

// Read by every caller waiting on an operation, at each change of it: built once per database.
const operationById = perDatabase((db) =>
  db
    .select()
    .from(operations)
    .where(and(eq(operations.id, sql.placeholder('id')), eq(operations.project_id, sql.placeholder('project_id'))))
    .prepare('hangar_operation_by_id'),
);

// An operation with its VM, in one statement: what a caller that waited for it is answered.
const operationWithVm = perDatabase((db) =>
  db
    .select({ op: operations, vm: vms })
    .from(operations)
    // The VM's project is its operation's; said here too, so that the scope holds for both rows.
    .innerJoin(vms, and(eq(vms.id, operations.vm_id), eq(vms.project_id, operations.project_id)))
    .where(and(eq(operations.id, sql.placeholder('id')), eq(operations.project_id, sql.placeholder('project_id'))))
    .prepare('hangar_operation_with_vm'),
);

/** An operation and its VM as they are now, read together (the VM's project is its operation's). */
export async function getOperationWithVm(db: Db, scope: Scope, id: string): Promise<{ operation: Operation; vm: Vm }> {
  const opId = parseId(id, 'operation id');
  const [row] = await operationWithVm(db).execute({ id: opId, project_id: scope.project_id });
  if (!row) throw errors.operationNotFound(opId);
  return { operation: toOperation(row.op), vm: toVm(row.vm) };
}

export async function getOperation(db: Db, scope: Scope, id: string): Promise<Operation> {
  const opId = parseId(id, 'operation id');
  const [row] = await operationById(db).execute({ id: opId, project_id: scope.project_id });
  if (!row) throw errors.operationNotFound(opId);
  return toOperation(row);
}

/** Newest first. */
export async function listOperations(db: Db, scope: Scope, query: ListOperationsQuery = {}): Promise<z.infer<typeof OperationPage>> {
  const q = parse(ListOperationsQuery, query, 'operation query');
  const filters: SQL[] = [eq(operations.project_id, scope.project_id)];
  if (q.vm_id) filters.push(eq(operations.vm_id, q.vm_id));
  if (q.status) filters.push(eq(operations.status, q.status));
  if (q.cursor) {
    const p = decodeCursor(q.cursor);
    filters.push(sql`(${operations.created_at}, ${operations.id}) < (${p.created_at.toISOString()}::timestamptz, ${p.id}::uuid)`);
  }
  const rows = await db
    .select()
    .from(operations)
    .where(and(...filters))
    .orderBy(...newestFirst(operations.created_at, operations.id))
    .limit(q.limit + 1);
  const more = rows.length > q.limit;
  const page = more ? rows.slice(0, q.limit) : rows;
  const last = page[page.length - 1];
  return { operations: page.map(toOperation), next_cursor: more && last ? encodeCursor(last) : null };
}
