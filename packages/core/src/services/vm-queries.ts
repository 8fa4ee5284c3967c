import { and, eq, inArray, isNull, type SQL, sql } from 'drizzle-orm';
import { PgDialect } from 'drizzle-orm/pg-core';
import { errors } from '../domain/errors.js';
import { Uuid } from '../domain/fields.js';
import { ListVmsQuery, parseLabelSelector, type VmPage } from '../domain/list.js';
import type { Scope } from '../domain/project.js';
import type { Vm } from '../domain/vm.js';
import type { Db, Tx } from '../store/database.js';
import { vmGpuModelIs } from '../store/gpu-rows.js';
import { toVm } from '../store/mappers.js';
import { newestFirst } from '../store/order.js';
import { perDatabase } from '../store/per-database.js';
import { hosts, type VmRow, vms } from '../store/schema.js';
import { lockVm } from '../store/vm-rows.js';
import { CountPlans } from './count-plans.js';
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

// The hottest read: its SQL is built once per database instead of on every call.
const vmById = perDatabase((db) =>
  db
    .select()
    .from(vms)
    .where(and(eq(vms.id, sql.placeholder('id')), eq(vms.project_id, sql.placeholder('project_id'))))
    .prepare('hangar_vm_by_id'),
);

/** Deleted VMs stay readable by id. */
export async function getVm(db: Db, scope: Scope, id: string): Promise<Vm> {
  const vmId = parseId(id, 'vm id');
  const q = vmById(db);
  const [row] = await q.execute({ id: vmId, project_id: scope.project_id });
  if (!row) throw errors.vmNotFound(vmId);
  return toVm(row);
}

/** Past this many matches a list's total is estimated: counting a million rows per page is what makes lists slow. */
export const EXACT_COUNT_LIMIT = 1_000;

/** Counts the matches up to one past the limit; `walk`: along the list's order (its index), from the newest. */
function cappedCount(where: SQL, walk = false): SQL {
  const order = walk ? sql` ORDER BY ${sql.join(newestFirst(vms.created_at, vms.id), sql`, `)}` : sql``;
  return sql`SELECT count(*)::int AS n FROM (SELECT 1 FROM ${vms} WHERE ${where}${order} LIMIT ${EXACT_COUNT_LIMIT + 1}) matches`;
}

interface PlanNode {
  'Node Type': string;
  'Plan Rows': number;
  'Parent Relationship'?: string;
  Plans?: PlanNode[];
}

/** How to count: the planner's estimate of all the matches, and whether to walk the list's index for them. */
interface CountPlan {
  estimate: number;
  walk: boolean;
  /**
   * Whether a count by this plan found more than the limit: while the plan is kept, the list's
   * total is its estimate without counting again. Counting 1,001 matches is most of what a page
   * of a large listing costs PostgreSQL (0.8 ms of its 1 ms at a million VMs), for an answer that
   * is an estimate either way; only one under the limit is exact, and that is counted each time.
   */
  over?: boolean;
}

const INDEX_SCANS = new Set(['Index Scan', 'Index Only Scan']);

const child = (n: PlanNode | undefined, relationship: string) => n?.Plans?.filter((c) => c['Parent Relationship'] === relationship) ?? [];

/** The node a capped count reads its rows from: under its LIMIT (and under a Gather, for the kind of scan). */
function countSource(plan: PlanNode | undefined): { rows: number; type: string | undefined } {
  let node = plan;
  while (node && node['Node Type'] !== 'Limit') node = child(node, 'Outer')[0];
  const source = child(node, 'Outer')[0];
  const scan = source?.['Node Type'] === 'Gather' ? child(source, 'Outer')[0] : source;
  return { rows: source?.['Plan Rows'] ?? 0, type: scan?.['Node Type'] };
}

/**
 * Whether to count by walking the list's own index (newest first, as its pages do): when the
 * planner would read the table for the count, expecting to stop at the limit, and could walk the
 * index instead. It prices that sequential scan below the walk, but the scan starts wherever the
 * last one stopped and, on a table over a quarter of shared_buffers, reads through a small ring of
 * buffers: ~160 pages PostgreSQL does not hold, on every count (`status=running&label=tier=web` at
 * a million VMs: 1.8 ms alone, 4.4 ms under the benchmark's load). The walk reads the newest VMs,
 * the pages the list's page has just read (0.7 ms, 1-2 ms under load). Where an index finds the
 * matches (a label through the GIN index) the planner's count stays: walking the list's order
 * would read every VM on the way to a rare match. One EXPLAIN plans both counts; the estimate is
 * the planner's count's (the rows of its scan, as `EXPLAIN SELECT 1 … WHERE` gives them).
 */
async function planCount(db: Db, where: SQL): Promise<CountPlan> {
  const [row] = await db.execute<{ 'QUERY PLAN': [{ Plan: PlanNode }] }>(
    sql`EXPLAIN (FORMAT JSON) SELECT (${cappedCount(where)}), (${cappedCount(where, true)})`,
  );
  const [planned, walked] = child(row?.['QUERY PLAN']?.[0]?.Plan, 'InitPlan').map(countSource);
  const estimate = Math.round(planned?.rows ?? 0);
  const walk = planned?.type === 'Seq Scan' && estimate > EXACT_COUNT_LIMIT && INDEX_SCANS.has(walked?.type ?? '');
  return { estimate, walk };
}

async function countMatches(db: Db, where: SQL, plan: CountPlan): Promise<{ n: number; estimate: boolean }> {
  // The planner can guess low (label containment has no statistics); we know there are more than the limit.
  const estimated = { n: Math.max(EXACT_COUNT_LIMIT + 1, plan.estimate), estimate: true };
  if (plan.over) return estimated;
  const [capped] = await db.execute<{ n: number }>(cappedCount(where, plan.walk));
  const n = Number(capped?.n ?? 0);
  if (n <= EXACT_COUNT_LIMIT) return { n, estimate: false };
  plan.over = true;
  return estimated;
}

/** How each database's listings were counted lately (a process may use more than one: tests do). */
const countPlans = perDatabase(() => new CountPlans<CountPlan>());

/** Turns a filter into its SQL text and values (the same for every database: no casing is configured). */
const dialect = new PgDialect();

/** A filter as its SQL text and values. */
function filterKey(where: SQL): string {
  const { sql: text, params } = dialect.sqlToQuery(where);
  return JSON.stringify([text, params]);
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

  const offset = position ? 0 : (q.page - 1) * q.per_page;
  const rows = await db
    .select()
    .from(vms)
    .where(pageWhere)
    .orderBy(...newestFirst(vms.created_at, vms.id))
    .limit(q.per_page + 1)
    .offset(offset);
  const more = rows.length > q.per_page;
  const page = more ? rows.slice(0, q.per_page) : rows;
  const last = page[page.length - 1];
  // The last page of a listing by number says how many match without counting them (what the
  // count would say, while that is exact).
  const seen = offset + page.length;
  const totalCount =
    !position && !more && (page.length > 0 || offset === 0) && seen <= EXACT_COUNT_LIMIT
      ? { n: seen, estimate: false }
      : await countMatches(db, where!, await countPlans(db).get(filterKey(where!), () => planCount(db, where!)));
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
