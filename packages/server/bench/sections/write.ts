import { connectPostgres } from '@hangar/core';
import { BenchClient } from '../lib/http-client.js';
import { percentile, pool } from '../lib/load.js';

export interface WriteResults {
  count: number;
  concurrency: number;
  /** `POST /vms` answered 201 (the VM and its operation committed), per second. */
  accepted_per_s: number;
  /** VMs created per second, create -> stable (`?wait=true`), through the API. */
  hangar_per_s: number;
  /** The same rows INSERTed raw through postgres.js, on connections already open: the median of three passes. */
  baseline_per_s: number;
  /** accepted_per_s / baseline_per_s. */
  accepted_ratio: number;
  /** hangar_per_s / baseline_per_s. */
  ratio: number;
  /** The VMs made, for the worker section. */
  vm_ids: string[];
}

/** Creates at `concurrency`: answered (201), then carried out (`?wait=true`), against raw INSERTs of the same rows. */
export async function writePath(opts: {
  url: string;
  apiKey: string;
  databaseUrl: string;
  project_id: string;
  host_id: string;
  count: number;
  concurrency: number;
}): Promise<WriteResults> {
  const client = new BenchClient(opts.url, { authorization: `Bearer ${opts.apiKey}` }, opts.concurrency);
  const spec = { cpu_cores: 1, memory_mb: 512, disk_gb: 10 };
  const run = Date.now().toString(36);
  const sql = connectPostgres(opts.databaseUrl, { max: opts.concurrency, onnotice: () => {} });
  const create = (name: string, wait: boolean) => client.post(`/api/v1/vms${wait ? '?wait=true' : ''}`, { name, ...spec });
  try {
    // 201: each answer means the VM and its create operation are committed. The worker carries
    // them out meanwhile, and is let finish before the next run.
    const tA = performance.now();
    await pool(opts.count, opts.concurrency, async (i) => {
      const res = await create(`a-${run}-${i}`, false);
      if (res.status !== 201) throw new Error(`create ${i}: ${res.status} ${res.text}`);
    });
    const acceptedS = (performance.now() - tA) / 1000;
    const open = async () =>
      ((await sql`SELECT count(*)::int AS n FROM operations WHERE status IN ('pending', 'running')`)[0] as { n: number }).n;
    while ((await open()) > 0) await new Promise((r) => setTimeout(r, 20));

    // Create -> stable: the answer comes when the VM is made.
    const t0 = performance.now();
    const vm_ids = await pool(opts.count, opts.concurrency, async (i) => {
      const res = await create(`w-${run}-${i}`, true);
      const body = JSON.parse(res.text) as { vm?: { id: string; status: string }; detail?: string };
      if (res.status < 200 || res.status > 299 || body.vm?.status !== 'stopped')
        throw new Error(`create ${i}: ${res.status} ${body.detail ?? body.vm?.status}`);
      return body.vm.id;
    });
    const hangarS = (performance.now() - t0) / 1000;

    // The baseline: the same rows, INSERTed raw at the same concurrency. Its connections are
    // opened first (the server's are open too: opening 16, each with its SCRAM handshake, was a
    // good part of a pass this short and halved the baseline), and it is the median of three passes.
    const network = { type: 'nat', bridge_name: null, mac_address: null, ip_address: null };
    await Promise.all(Array.from({ length: opts.concurrency }, () => sql`SELECT pg_sleep(0.05)`));
    const passes: number[] = [];
    for (let pass = 0; pass < 3; pass++) {
      // Their numbers, reserved from the project's counter beforehand: the baseline stays one INSERT a row.
      const [reserved] = await sql<{ first: number }[]>`
        UPDATE projects SET next_vm_number = next_vm_number + ${opts.count} WHERE id = ${opts.project_id}
        RETURNING next_vm_number - ${opts.count} AS first`;
      const t1 = performance.now();
      await pool(opts.count, opts.concurrency, async (i) => {
        await sql`
          INSERT INTO vms (project_id, host_id, number, name, status, cpu_cores, memory_mb, disk_gb, os_type, labels, network, vnc_enabled)
          VALUES (${opts.project_id}, ${opts.host_id}, ${reserved!.first + i}, ${`raw-${run}-${pass}-${i}`}, 'stopped', ${spec.cpu_cores}, ${spec.memory_mb}, ${spec.disk_gb}, 'linux', '{}'::jsonb, ${sql.json(network)}, true)`;
      });
      passes.push(opts.count / ((performance.now() - t1) / 1000));
    }
    await sql`DELETE FROM vms WHERE name LIKE ${`raw-${run}-%`}`;
    const accepted_per_s = opts.count / acceptedS;
    const hangar_per_s = opts.count / hangarS;
    const baseline_per_s = percentile(passes, 50);
    return {
      count: opts.count,
      concurrency: opts.concurrency,
      accepted_per_s,
      hangar_per_s,
      baseline_per_s,
      accepted_ratio: accepted_per_s / baseline_per_s,
      ratio: hangar_per_s / baseline_per_s,
      vm_ids,
    };
  } finally {
    client.close();
    await sql.end();
  }
}
