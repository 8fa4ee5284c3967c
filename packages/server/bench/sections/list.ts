import { encodeCursor } from '@hangar/core';
import type postgres from 'postgres';
import { type LoadResult, load } from '../lib/load.js';
import { seedVms } from '../lib/seed.js';

export interface ListResults {
  vms: number;
  first: LoadResult;
  deep: LoadResult;
  /** deep p99 / first p99 (goal: <= 1.5). */
  deep_over_first_p99: number;
}

const FILTER = 'status=running&label=tier%3Dweb&per_page=50';

/** `vms.list` (50 a page, status + label filter) at `total` VMs: the first page, and one deep in the cursor. */
export async function listPath(opts: {
  sql: postgres.Sql;
  url: string;
  apiKey: string;
  project_id: string;
  host_id: string;
  seeded: number;
  total: number;
  seconds: number;
}): Promise<ListResults> {
  if (opts.total > opts.seeded)
    await seedVms(opts.sql, { project_id: opts.project_id, host_id: opts.host_id, from: opts.seeded + 1, count: opts.total - opts.seeded });
  // A position 90% of the way through the matching rows, as a client paging that far would hold.
  const [{ n }] = (await opts.sql`
    SELECT count(*)::int AS n FROM vms
    WHERE project_id = ${opts.project_id} AND deleted_at IS NULL AND status = 'running' AND labels @> '{"tier":"web"}'`) as unknown as [
    { n: number },
  ];
  const [row] = await opts.sql`
    SELECT created_at, id FROM vms
    WHERE project_id = ${opts.project_id} AND deleted_at IS NULL AND status = 'running' AND labels @> '{"tier":"web"}'
    ORDER BY created_at DESC, id DESC OFFSET ${Math.floor(n * 0.9)} LIMIT 1`;
  const cursor = encodeCursor({ created_at: new Date(row!.created_at as string | Date), id: row!.id as string });
  const auth = { authorization: `Bearer ${opts.apiKey}` };
  const c = { connections: 4, seconds: opts.seconds, headers: auth };
  await load(`${opts.url}/api/v1/vms?${FILTER}`, { ...c, seconds: 1 });
  const first = await load(`${opts.url}/api/v1/vms?${FILTER}`, c);
  const deep = await load(`${opts.url}/api/v1/vms?${FILTER}&cursor=${cursor}`, c);
  for (const [name, r] of Object.entries({ first, deep }))
    if (r.failures > 0) throw new Error(`list ${name}: ${r.failures} failed requests`);
  return { vms: opts.total, first, deep, deep_over_first_p99: deep.p99_ms / first.p99_ms };
}
