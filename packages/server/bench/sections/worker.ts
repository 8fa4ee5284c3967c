import type postgres from 'postgres';
import { percentile, pool } from '../lib/load.js';

export interface WorkerResults {
  ops: number;
  /** Start operations the worker completed per second, queued all at once (one transaction). */
  ops_per_s: number;
  /**
   * The same number of bare claims (`UPDATE ... FOR UPDATE SKIP LOCKED`, one row each, 16 at a
   * time, on connections already open), per second: the median of three passes.
   */
  baseline_claims_per_s: number;
  /** ops_per_s / baseline_claims_per_s. */
  ratio: number;
  /** From an operation's end (its VM's change committed) to a `vms.wait` caller seeing it. */
  wait_p50_ms: number;
  wait_p99_ms: number;
  wait_samples: number;
}

export async function workerPath(opts: {
  url: string;
  apiKey: string;
  sql: postgres.Sql;
  vm_ids: string[];
  waiters: number;
  rounds: number;
}): Promise<WorkerResults> {
  const headers = { authorization: `Bearer ${opts.apiKey}` };
  const post = async (path: string) => {
    const res = await fetch(`${opts.url}/api/v1${path}`, { method: 'POST', headers });
    if (!res.ok) throw new Error(`POST ${path}: ${res.status} ${await res.text()}`);
    return (await res.json()) as { operation: { id: string } | null };
  };
  // Every open operation (by the partial index the worker claims from): polled every 5 ms while
  // the worker runs, it must cost PostgreSQL next to nothing, and the bench's own operations are
  // the only ones open (checked once queued). Matching each against the VMs' ids on every poll
  // took PostgreSQL time the worker being measured needed.
  const open = async () =>
    ((await opts.sql`SELECT count(*)::int AS n FROM operations WHERE status IN ('pending', 'running')`)[0] as { n: number }).n;

  // Throughput: every VM's start queued at once, as the API queues a start (the operation, the
  // VM moved to starting and owned by it), in one transaction: the worker, woken by its commit,
  // finds them all, and what is timed is its work alone (the API's side is the write rows').
  const hosts = await opts.sql.begin(async (tx) => {
    await tx`
      WITH queued AS (
        INSERT INTO operations (vm_id, project_id, host_id, action, input, deadline_at)
        SELECT id, project_id, host_id, 'start', '{}'::jsonb, now() + interval '10 minutes'
        FROM vms WHERE id = ANY(${opts.vm_ids}::uuid[]) AND status = 'stopped' AND current_operation_id IS NULL
        RETURNING id, vm_id)
      UPDATE vms SET status = 'starting', current_operation_id = queued.id, version = version + 1, updated_at = now()
      FROM queued WHERE vms.id = queued.vm_id`;
    return tx`SELECT DISTINCT host_id::text AS host FROM vms WHERE id = ANY(${opts.vm_ids}::uuid[])`;
  });
  const queued = await open();
  if (queued !== opts.vm_ids.length) throw new Error(`worker: ${queued} operations open, not the ${opts.vm_ids.length} queued`);
  const t0 = performance.now();
  for (const { host } of hosts) await opts.sql`SELECT pg_notify('hangar_work', ${host as string})`;
  while ((await open()) > 0) await new Promise((r) => setTimeout(r, 5));
  const ops_per_s = opts.vm_ids.length / ((performance.now() - t0) / 1000);
  const [{ n: started }] = (await opts.sql`
    SELECT count(*)::int AS n FROM vms WHERE id = ANY(${opts.vm_ids}::uuid[]) AND status = 'running'`) as unknown as [{ n: number }];
  if (started !== opts.vm_ids.length) throw new Error(`worker: ${started} of ${opts.vm_ids.length} VMs running after their starts`);

  // The baseline: as many bare claims of one queued row each, at 16 connections, on a table of
  // the operations' shape (its indexes too), without anything else a worker does. Its 16
  // connections are opened first (the worker's are open too: opening them is no claim's cost,
  // and it was a good part of a pass this short), and it is the median of three passes.
  await opts.sql`DROP TABLE IF EXISTS bench_claims`;
  await opts.sql`CREATE TABLE bench_claims (LIKE operations INCLUDING DEFAULTS INCLUDING INDEXES)`;
  await Promise.all(Array.from({ length: 16 }, () => opts.sql`SELECT pg_sleep(0.05)`));
  const passes: number[] = [];
  for (let pass = 0; pass < 3; pass++) {
    await opts.sql`TRUNCATE bench_claims`;
    await opts.sql`
      INSERT INTO bench_claims (id, vm_id, project_id, host_id, action, input, deadline_at)
      SELECT gen_random_uuid(), vm_id, project_id, host_id, action, input, deadline_at FROM operations
      WHERE vm_id = ANY(${opts.vm_ids}::uuid[]) AND action = 'start'`;
    const tB = performance.now();
    let claimed = 0;
    await pool(16, 16, async () => {
      for (;;) {
        const rows = await opts.sql`
          UPDATE bench_claims SET status = 'running', lease_owner = 'bench', lease_expires_at = now() + interval '30 seconds',
            attempts = attempts + 1, started_at = now(), updated_at = now()
          WHERE id = (SELECT id FROM bench_claims WHERE status = 'pending' ORDER BY created_at FOR UPDATE SKIP LOCKED LIMIT 1)
          RETURNING id`;
        if (rows.length === 0) return;
        claimed++;
      }
    });
    passes.push(claimed / ((performance.now() - tB) / 1000));
  }
  const baseline_claims_per_s = percentile(passes, 50);
  await opts.sql`DROP TABLE bench_claims`;

  // Latency: callers long-poll for `stopped`; the VMs are force-stopped; each caller's wake-up
  // is compared with the moment its operation ended.
  const samples: number[] = [];
  const ids = opts.vm_ids.slice(0, opts.waiters);
  for (let round = 0; round < opts.rounds; round++) {
    const seen = ids.map(async (id) => {
      const res = await fetch(`${opts.url}/api/v1/vms/${id}/wait?status=stopped&timeout=60000`, { headers });
      await res.arrayBuffer();
      return Date.now();
    });
    await new Promise((r) => setTimeout(r, 300)); // the waits are parked on the server
    const ops = await Promise.all(ids.map(async (id) => (await post(`/vms/${id}/force-stop`)).operation!.id));
    const times = await Promise.all(seen);
    const ended = await opts.sql`SELECT id, finished_at FROM operations WHERE id = ANY(${ops}::uuid[])`;
    const byId = new Map(ended.map((r) => [r.id as string, new Date(r.finished_at as string | Date).getTime()]));
    for (const [i, op] of ops.entries()) samples.push(times[i]! - byId.get(op)!);
    await pool(ids.length, 16, (i) => post(`/vms/${ids[i]}/start?wait=true`));
  }
  return {
    ops: opts.vm_ids.length,
    ops_per_s,
    baseline_claims_per_s,
    ratio: ops_per_s / baseline_claims_per_s,
    wait_p50_ms: percentile(samples, 50),
    wait_p99_ms: percentile(samples, 99),
    wait_samples: samples.length,
  };
}
