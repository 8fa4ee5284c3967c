import { and, eq, inArray, isNull, type SQL, sql } from 'drizzle-orm';
import { errors } from '../domain/errors.js';
import { Uuid } from '../domain/fields.js';
import { ListVmsQuery, parseLabelSelector, type VmPage } from '../domain/list.js';
import type { Scope } from '../domain/project.js';
import type { Vm } from '../domain/vm.js';
import type { Db, Tx } from '../store/database.js';
import { vmGpuModelIs } from '../store/gpu-rows.js';
import { toVm } from '../store/mappers.js';
import { newestFirst } from '../store/order.js';
import { hosts, type VmRow, vms } from '../store/schema.js';
import { lockVm } from '../store/vm-rows.js';
import { decodeCursor, encodeCursor } from './cursor.js';
import { hostRef } from './hosts.js';
import { parse, parseId } from './validate.js';

/** The VM row in the caller's project (deleted ones included), or VM_NOT_FOUND. */
export async function requireVm(tx: Tx, scope: Scope, id: string, lock = false): Promise<VmRow> {
  const [row] = lock
    ? [await lockVm(tx, id, scope.project_id)]
    : await tx
        .select()
        .from(vms)
        .where(and(eq(vms.id, id), eq(vms.project_id, scope.project_id)));
  if (!row) throw errors.vmNotFound(id);
  return row;
}

function prepareVmById(db: Db) {
  return db
    .select()
    .from(vms)
    .where(and(eq(vms.id, sql.placeholder('id')), eq(vms.project_id, sql.placeholder('project_id'))))
    .prepare('hangar_vm_by_id');
}
// The hottest read: its SQL is built once per database instead of on every call.
const vmById = new WeakMap<Db, ReturnType<typeof prepareVmById>>();

/** Deleted VMs stay readable by id. */
export async function getVm(db: Db, scope: Scope, id: string): Promise<Vm> {
  const vmId = parseId(id, 'vm id');
  let q = vmById.get(db);
  if (!q) {
    q = prepareVmById(db);
    vmById.set(db, q);
  }
  const [row] = await q.execute({ id: vmId, project_id: scope.project_id });
  if (!row) throw errors.vmNotFound(vmId);
  return toVm(row);
}

/** Past this many matches a list's total is estimated: counting a million rows per page is what makes lists slow. */
export const EXACT_COUNT_LIMIT = 1_000;

async function countMatches(db: Db, where: SQL): Promise<{ n: number; estimate: boolean }> {
  const [capped] = await db.execute<{ n: number }>(
    sql`SELECT count(*)::int AS n FROM (SELECT 1 FROM ${vms} WHERE ${where} LIMIT ${EXACT_COUNT_LIMIT + 1}) matches`,
  );
  const n = Number(capped?.n ?? 0);
  if (n <= EXACT_COUNT_LIMIT) return { n, estimate: false };
  const [plan] = await db.execute<{ 'QUERY PLAN': [{ Plan: { 'Plan Rows': number } }] }>(
    sql`EXPLAIN (FORMAT JSON) SELECT 1 FROM ${vms} WHERE ${where}`,
  );
  const estimated = Math.round(plan?.['QUERY PLAN']?.[0]?.Plan?.['Plan Rows'] ?? 0);
  // The planner can guess low (label containment has no statistics); we know there are more than the limit.
  return { n: Math.max(EXACT_COUNT_LIMIT + 1, estimated), estimate: true };
}

const likeEscape = (s: string) => s.replace(/[\\%_]/g, (c) => `\\${c}`);

export async function listVms(db: Db, scope: Scope, query: ListVmsQuery = {}): Promise<VmPage> {
  const q = parse(ListVmsQuery, query, 'list query');
  const filters: SQL[] = [eq(vms.project_id, scope.project_id)];
  if (!q.include_deleted) filters.push(isNull(vms.deleted_at));
  if (q.status?.length) filters.push(q.status.length === 1 ? eq(vms.status, q.status[0]!) : inArray(vms.status, q.status));
  if (q.number !== undefined) filters.push(eq(vms.number, q.number));
  if (q.name) filters.push(eq(vms.name, q.name));
  if (q.host_id && Uuid.safeParse(q.host_id).success) filters.push(eq(vms.host_id, q.host_id));
  else if (q.host_id) {
    // A number or a name: the host it names, as `resolveHost` finds it.
    const ref = hostRef(q.host_id);
    const first = ref.first.length ? sql`ORDER BY ${sql.join(ref.first, sql`, `)}` : sql``;
    filters.push(sql`${vms.host_id} = (SELECT ${hosts.id} FROM ${hosts} WHERE ${ref.where} ${first} LIMIT 1)`);
  }
  if (q.os_type) filters.push(eq(vms.os_type, q.os_type));
  const exact: Record<string, string> = {};
  for (const sel of (q.label ?? []).map((l) => parseLabelSelector(l)!)) {
    if (sel.value === undefined) filters.push(sql`${vms.labels} ? ${sel.key}`);
    else exact[sel.key] = sel.value;
  }
  if (Object.keys(exact).length) filters.push(sql`${vms.labels} @> ${JSON.stringify(exact)}::jsonb`);
  if (q.gpu_model) filters.push(vmGpuModelIs(q.gpu_model));
  if (q.search) filters.push(sql`${vms.name} ILIKE ${`%${likeEscape(q.search.toLowerCase())}%`}`);

  const where = and(...filters);
  const position = q.cursor ? decodeCursor(q.cursor) : null;
  const pageWhere = position
    ? and(where, sql`(${vms.created_at}, ${vms.id}) < (${position.created_at.toISOString()}::timestamptz, ${position.id}::uuid)`)
    : where;

  const [rows, totalCount] = await Promise.all([
    db
      .select()
      .from(vms)
      .where(pageWhere)
      .orderBy(...newestFirst(vms.created_at, vms.id))
      .limit(q.per_page + 1)
      .offset(position ? 0 : (q.page - 1) * q.per_page),
    countMatches(db, where!),
  ]);
  const more = rows.length > q.per_page;
  const page = more ? rows.slice(0, q.per_page) : rows;
  const last = page[page.length - 1];
  const total = totalCount.n;
  return {
    vms: page.map(toVm),
    total,
    total_is_estimate: totalCount.estimate,
    page: position ? null : q.page,
    per_page: q.per_page,
    total_pages: Math.ceil(total / q.per_page),
    next_cursor: more && last ? encodeCursor(last) : null,
  };
}
