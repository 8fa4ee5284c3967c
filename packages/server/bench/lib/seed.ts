import type postgres from 'postgres';

/**
 * Inserts `count` VMs straight into the table (the API would take hours for a million):
 * statuses cycle running/stopped/paused, labels tier=web|db and a shard, one second apart.
 * They have no domain, so the reconciler leaves them alone.
 */
export async function seedVms(
  sql: postgres.Sql,
  opts: { project_id: string; host_id: string; from: number; count: number },
): Promise<void> {
  const batch = 100_000;
  for (let start = opts.from; start < opts.from + opts.count; start += batch) {
    const end = Math.min(opts.from + opts.count, start + batch) - 1;
    // Their numbers are taken from the project's counter, as a create takes one.
    await sql`
      WITH counter AS (
        UPDATE projects SET next_vm_number = next_vm_number + ${end - start + 1} WHERE id = ${opts.project_id}
        RETURNING next_vm_number - ${end - start + 1} AS first)
      INSERT INTO vms (project_id, host_id, number, name, status, cpu_cores, memory_mb, disk_gb, os_type, labels, network, vnc_enabled, created_at, updated_at)
      SELECT ${opts.project_id}, ${opts.host_id}, counter.first + (g - ${start}::int), 'seed-' || g, (ARRAY['running','stopped','paused'])[1 + g % 3], 1, 512, 10, 'linux',
        jsonb_build_object('tier', (ARRAY['web','db'])[1 + g % 2], 'shard', (g % 100)::text),
        '{"type":"nat","bridge_name":null,"mac_address":null,"ip_address":null}'::jsonb, false,
        timestamptz '2026-01-01' + (g || ' seconds')::interval, now()
      FROM generate_series(${start}::int, ${end}::int) g, counter`;
  }
  await sql`ANALYZE vms`;
}
