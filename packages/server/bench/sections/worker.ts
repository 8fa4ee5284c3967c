import type postgres from 'postgres';
import { percentile, pool } from '../lib/load.js';

export interface WorkerResults {
  ops: number;
  /** Start operations completed per second, queued all at once. */
  ops_per_s: number;
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
  const open = async () =>
    (
      (
        await opts.sql`SELECT count(*)::int AS n FROM operations WHERE vm_id = ANY(${opts.vm_ids}::uuid[]) AND status IN ('pending', 'running')`
      )[0] as { n: number }
    ).n;

  // Throughput: every VM's start queued at once; done when no operation on them is open.
  const t0 = performance.now();
  await pool(opts.vm_ids.length, 32, (i) => post(`/vms/${opts.vm_ids[i]}/start`));
  while ((await open()) > 0) await new Promise((r) => setTimeout(r, 10));
  const ops_per_s = opts.vm_ids.length / ((performance.now() - t0) / 1000);

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
    wait_p50_ms: percentile(samples, 50),
    wait_p99_ms: percentile(samples, 99),
    wait_samples: samples.length,
  };
}
