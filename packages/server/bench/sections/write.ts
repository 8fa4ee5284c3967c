import { randomUUID } from 'node:crypto';
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
  /**
   * The same rows a create commits (its VM, its operation, their two events), INSERTed raw in one
   * statement a create through postgres.js, on connections already open: the median of three passes.
   */
  baseline_per_s: number;
  /** The VM's row alone, one INSERT a create (the baseline before it held all of a create's rows): the median of three passes. */
  vm_row_per_s: number;
  /** accepted_per_s / baseline_per_s. */
  accepted_ratio: number;
  /** hangar_per_s / baseline_per_s. */
  ratio: number;
  /** The VMs made, for the worker section. */
  vm_ids: string[];
}

/** Creates at `concurrency`: answered (201), then carried out (`?wait=true`), against raw INSERTs of the same rows (a create's VM, operation and events). */
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
    // Their numbers, reserved from the project's counter beforehand (numbering is Hangar's work).
    const numbers = async () =>
      (
        await sql<{ first: number }[]>`
          UPDATE projects SET next_vm_number = next_vm_number + ${opts.count} WHERE id = ${opts.project_id}
          RETURNING next_vm_number - ${opts.count} AS first`
      )[0]!.first;
    const passes = async (insert: (name: string, n: number) => Promise<unknown>) => {
      const rates: number[] = [];
      for (let pass = 0; pass < 3; pass++) {
        const first = await numbers();
        const t1 = performance.now();
        await pool(opts.count, opts.concurrency, (i) => insert(`raw-${run}-${rates.length}-${i}-${first}`, first + i));
        rates.push(opts.count / ((performance.now() - t1) / 1000));
      }
      return percentile(rates, 50);
    };
    // A create's rows, written as a create writes them: one statement, so one round trip and one
    // commit (the fastest raw form, so the strictest baseline). The operation is written finished
    // and the events with a place in the stream (below zero, out of Hangar's), so that Hangar's
    // worker and event sequencer, running meanwhile, leave them alone.
    let seq = 0;
    const baseline_per_s = await passes((name, number) => {
      const vmId = randomUUID();
      const opId = randomUUID();
      seq -= 2;
      return sql`
        WITH new_vm AS (
          INSERT INTO vms (id, project_id, host_id, number, name, status, cpu_cores, memory_mb, disk_gb, os_type, labels, network, vnc_enabled, current_operation_id)
          VALUES (${vmId}, ${opts.project_id}, ${opts.host_id}, ${number}, ${name}, 'stopped', ${spec.cpu_cores}, ${spec.memory_mb}, ${spec.disk_gb}, 'linux', '{}'::jsonb, ${sql.json(network)}, true, ${opId})
          RETURNING id
        ), new_op AS (
          INSERT INTO operations (id, vm_id, project_id, host_id, action, status, input, deadline_at, finished_at)
          VALUES (${opId}, ${vmId}, ${opts.project_id}, ${opts.host_id}, 'create', 'succeeded', ${sql.json({ start: false })}, now() + interval '10 minutes', now())
        )
        INSERT INTO events (vm_id, project_id, operation_id, type, message, to_status, data, seq)
        VALUES (${vmId}, ${opts.project_id}, ${opId}, 'vm.created', ${`VM ${name} created`}, 'provisioning', '{}'::jsonb, ${seq + 1}),
               (${vmId}, ${opts.project_id}, ${opId}, 'operation.queued', 'create requested', NULL, ${sql.json({ start: false })}, ${seq})`;
    });
    const vm_row_per_s = await passes(
      (name, number) => sql`
        INSERT INTO vms (project_id, host_id, number, name, status, cpu_cores, memory_mb, disk_gb, os_type, labels, network, vnc_enabled)
        VALUES (${opts.project_id}, ${opts.host_id}, ${number}, ${name}, 'stopped', ${spec.cpu_cores}, ${spec.memory_mb}, ${spec.disk_gb}, 'linux', '{}'::jsonb, ${sql.json(network)}, true)`,
    );
    const raw = sql`SELECT id FROM vms WHERE name LIKE ${`raw-${run}-%`}`;
    await sql`DELETE FROM events WHERE vm_id IN (${raw})`;
    await sql`DELETE FROM operations WHERE vm_id IN (${raw})`;
    await sql`DELETE FROM vms WHERE name LIKE ${`raw-${run}-%`}`;
    const accepted_per_s = opts.count / acceptedS;
    const hangar_per_s = opts.count / hangarS;
    return {
      count: opts.count,
      concurrency: opts.concurrency,
      accepted_per_s,
      hangar_per_s,
      baseline_per_s,
      vm_row_per_s,
      accepted_ratio: accepted_per_s / baseline_per_s,
      ratio: hangar_per_s / baseline_per_s,
      vm_ids,
    };
  } finally {
    client.close();
    await sql.end();
  }
}
