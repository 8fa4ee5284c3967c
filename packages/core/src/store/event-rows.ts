import type postgres from 'postgres';
import { parseLabelSelector } from '../domain/list.js';
import { WATCH_KINDS, type WatchAccess, type WatchEvent, type WatchKind } from '../domain/watch.js';

export interface EventQuery {
  access: WatchAccess;
  vm_id?: string;
  /** Label selectors (`key=value` or `key`), already validated. */
  label?: string[];
  /** Exact event types and whole kinds. */
  types?: string[];
  kinds?: WatchKind[];
  /** A global admin's look at one project (with the hosts' events). */
  project_id?: string;
}

interface Row {
  seq: string;
  id: string;
  type: string;
  project_id: string | null;
  vm_id: string | null;
  operation_id: string | null;
  image_id: string | null;
  host_id: string | null;
  message: string;
  from_status: string | null;
  to_status: string | null;
  data: Record<string, unknown>;
  created_at: Date;
}

const kindOf = (type: string): WatchKind => {
  const k = type.slice(0, type.indexOf('.')) as WatchKind;
  return WATCH_KINDS.includes(k) ? k : 'vm';
};

function toWatchEvent(r: Row): WatchEvent {
  return {
    id: r.seq,
    event_id: Number(r.id),
    kind: kindOf(r.type),
    type: r.type as WatchEvent['type'],
    project_id: r.project_id,
    vm_id: r.vm_id,
    operation_id: r.operation_id,
    image_id: r.image_id,
    host_id: r.host_id,
    message: r.message,
    from_status: r.from_status,
    to_status: r.to_status,
    data: r.data,
    created_at: new Date(r.created_at).toISOString(),
  };
}

const COLUMNS = (sql: postgres.Sql) => sql`e.seq::text AS seq, e.id::text AS id, e.type, e.project_id, e.vm_id, e.operation_id,
  e.image_id, e.host_id, e.message, e.from_status, e.to_status, e.data, e.created_at`;

/**
 * Events placed after `after` (and at most `upTo`) that the query lets through, in stream
 * order: a watcher catching up reads these itself. `matches` is the same filter in memory, for
 * the live tail every watcher of a process shares; the two must agree.
 */
export async function eventsAfter(sql: postgres.Sql, after: number, q: EventQuery, limit: number, upTo?: number): Promise<WatchEvent[]> {
  const where: postgres.PendingQuery<postgres.Row[]>[] = [sql`e.seq > ${after}`];
  if (upTo !== undefined) where.push(sql`e.seq <= ${upTo}`);
  if ('project_id' in q.access) where.push(sql`e.project_id = ${q.access.project_id}`);
  else if (q.project_id) where.push(sql`(e.project_id = ${q.project_id} OR e.host_id IS NOT NULL)`);
  if (q.vm_id) where.push(sql`e.vm_id = ${q.vm_id}`);
  const byType: postgres.PendingQuery<postgres.Row[]>[] = [];
  if (q.types?.length) byType.push(sql`e.type IN ${sql(q.types)}`);
  if (q.kinds?.length) byType.push(sql`split_part(e.type, '.', 1) IN ${sql(q.kinds)}`);
  if (byType.length) where.push(sql`(${byType.reduce((a, b) => sql`${a} OR ${b}`)})`);
  const labels = (q.label ?? []).map((l) => parseLabelSelector(l)!);
  // Each selector on its own: `a=1` and `a=2` together match nothing, as in memory.
  for (const l of labels) {
    where.push(l.value === undefined ? sql`v.labels ? ${l.key}` : sql`v.labels @> ${JSON.stringify({ [l.key]: l.value })}::jsonb`);
  }
  const rows = await sql<Row[]>`
    SELECT ${COLUMNS(sql)}
    FROM events e ${labels.length > 0 ? sql`JOIN vms v ON v.id = e.vm_id` : sql``}
    WHERE ${where.reduce((a, b) => sql`${a} AND ${b}`)}
    ORDER BY e.seq
    LIMIT ${limit}`;
  return rows.map(toWatchEvent);
}

/** An event of the shared live tail, with its VM's labels (for label selectors). */
export interface FeedRow {
  event: WatchEvent;
  vm_labels: Record<string, string> | null;
}

/** Every event placed after `after`, whoever it is for, in stream order: the live tail one process reads for all its watchers. */
export async function allEventsAfter(sql: postgres.Sql, after: number, limit: number): Promise<FeedRow[]> {
  const rows = await sql<(Row & { vm_labels: Record<string, string> | null })[]>`
    SELECT ${COLUMNS(sql)}, v.labels AS vm_labels
    FROM events e LEFT JOIN vms v ON v.id = e.vm_id
    WHERE e.seq > ${after}
    ORDER BY e.seq
    LIMIT ${limit}`;
  return rows.map((r) => ({ event: toWatchEvent(r), vm_labels: r.vm_labels }));
}

/** Whether the query lets this event through: `eventsAfter`'s filter, in memory. */
export function matches(q: EventQuery, { event: e, vm_labels }: FeedRow): boolean {
  if ('project_id' in q.access) {
    if (e.project_id !== q.access.project_id) return false;
  } else if (q.project_id && e.project_id !== q.project_id && e.host_id === null) return false;
  if (q.vm_id && e.vm_id !== q.vm_id) return false;
  if ((q.types?.length || q.kinds?.length) && !(q.types?.includes(e.type) || q.kinds?.includes(e.kind))) return false;
  for (const l of (q.label ?? []).map((x) => parseLabelSelector(x)!)) {
    if (!vm_labels || !(l.key in vm_labels)) return false;
    if (l.value !== undefined && vm_labels[l.key] !== l.value) return false;
  }
  return true;
}
