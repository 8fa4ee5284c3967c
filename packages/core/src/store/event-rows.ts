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

/** Events placed after `after` that the query lets through, in stream order. */
export async function eventsAfter(sql: postgres.Sql, after: number, q: EventQuery, limit: number): Promise<WatchEvent[]> {
  const where: postgres.PendingQuery<postgres.Row[]>[] = [sql`e.seq > ${after}`];
  if ('project_id' in q.access) where.push(sql`e.project_id = ${q.access.project_id}`);
  else if (q.project_id) where.push(sql`(e.project_id = ${q.project_id} OR e.host_id IS NOT NULL)`);
  if (q.vm_id) where.push(sql`e.vm_id = ${q.vm_id}`);
  const byType: postgres.PendingQuery<postgres.Row[]>[] = [];
  if (q.types?.length) byType.push(sql`e.type IN ${sql(q.types)}`);
  if (q.kinds?.length) byType.push(sql`split_part(e.type, '.', 1) IN ${sql(q.kinds)}`);
  if (byType.length) where.push(sql`(${byType.reduce((a, b) => sql`${a} OR ${b}`)})`);
  const labels = (q.label ?? []).map((l) => parseLabelSelector(l)!);
  const exact = Object.fromEntries(labels.filter((l) => l.value !== undefined).map((l) => [l.key, l.value]));
  const join = labels.length > 0;
  if (Object.keys(exact).length) where.push(sql`v.labels @> ${JSON.stringify(exact)}::jsonb`);
  for (const l of labels.filter((x) => x.value === undefined)) where.push(sql`v.labels ? ${l.key}`);
  const rows = await sql<Row[]>`
    SELECT e.seq::text AS seq, e.id::text AS id, e.type, e.project_id, e.vm_id, e.operation_id, e.image_id, e.host_id,
           e.message, e.from_status, e.to_status, e.data, e.created_at
    FROM events e ${join ? sql`JOIN vms v ON v.id = e.vm_id` : sql``}
    WHERE ${where.reduce((a, b) => sql`${a} AND ${b}`)}
    ORDER BY e.seq
    LIMIT ${limit}`;
  return rows.map(toWatchEvent);
}
