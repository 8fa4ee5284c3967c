import { connectPostgres } from '@hangar/core';
import { pool } from '../lib/load.js';

export interface WriteResults {
  count: number;
  concurrency: number;
  /** VMs created per second, create -> stable, through the API. */
  hangar_per_s: number;
  /** The same rows INSERTed raw through postgres.js. */
  baseline_per_s: number;
  ratio: number;
  /** The VMs made, for the worker section. */
  vm_ids: string[];
}

export async function writePath(opts: {
  url: string;
  apiKey: string;
  databaseUrl: string;
  project_id: string;
  host_id: string;
  count: number;
  concurrency: number;
}): Promise<WriteResults> {
  const headers = { authorization: `Bearer ${opts.apiKey}`, 'content-type': 'application/json' };
  const spec = { cpu_cores: 1, memory_mb: 512, disk_gb: 10 };
  const run = Date.now().toString(36);
  const t0 = performance.now();
  const vm_ids = await pool(opts.count, opts.concurrency, async (i) => {
    const res = await fetch(`${opts.url}/api/v1/vms?wait=true`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ name: `w-${run}-${i}`, ...spec }),
    });
    const body = (await res.json()) as { vm?: { id: string; status: string }; detail?: string };
    if (!res.ok || body.vm?.status !== 'stopped') throw new Error(`create ${i}: ${res.status} ${body.detail ?? body.vm?.status}`);
    return body.vm.id;
  });
  const hangarS = (performance.now() - t0) / 1000;

  const sql = connectPostgres(opts.databaseUrl, { max: opts.concurrency, onnotice: () => {} });
  try {
    await sql`SELECT 1`;
    const network = { type: 'nat', bridge_name: null, mac_address: null, ip_address: null };
    const t1 = performance.now();
    await pool(opts.count, opts.concurrency, async (i) => {
      await sql`
        INSERT INTO vms (project_id, host_id, name, status, cpu_cores, memory_mb, disk_gb, os_type, labels, network, vnc_enabled)
        VALUES (${opts.project_id}, ${opts.host_id}, ${`raw-${run}-${i}`}, 'stopped', ${spec.cpu_cores}, ${spec.memory_mb}, ${spec.disk_gb}, 'linux', '{}'::jsonb, ${sql.json(network)}, true)`;
    });
    const rawS = (performance.now() - t1) / 1000;
    await sql`DELETE FROM vms WHERE name LIKE ${`raw-${run}-%`}`;
    const hangar_per_s = opts.count / hangarS;
    const baseline_per_s = opts.count / rawS;
    return { count: opts.count, concurrency: opts.concurrency, hangar_per_s, baseline_per_s, ratio: hangar_per_s / baseline_per_s, vm_ids };
  } finally {
    await sql.end();
  }
}
