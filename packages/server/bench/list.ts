/**
 * `pnpm --filter @hangar/server bench:list`: the list section of `pnpm bench` alone, at
 * 1,000,000 VMs (or --vms N), against `hangar serve` (its own process, worker on).
 *   --database-url URL  a database to use as it is: VMs seeded into it stay, so a second run
 *                       seeds only what is missing (default: a fresh embedded PostgreSQL)
 *   --seconds N         seconds of load per page (default 10)
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { openDatabase } from '@hangar/core';
import { benchDatabase } from './lib/database.js';
import { startHangar } from './lib/processes.js';
import { listPath } from './sections/list.js';

const { values } = parseArgs({
  options: { vms: { type: 'string', default: '1000000' }, seconds: { type: 'string', default: '10' }, 'database-url': { type: 'string' } },
});
const log = (m: string) => process.stderr.write(`[bench] ${m}\n`);
const apiKey = 'hgr_bench_key_0123456789abcdefghijkl';
const given = values['database-url'];
const db = given
  ? await openDatabase({ url: given, max: 5 }).then((database) => ({ url: given, database, close: () => database.close() }))
  : await benchDatabase();
const dataDir = await mkdtemp(join(tmpdir(), 'hangar-bench-data-'));
const hangar = await startHangar({ databaseUrl: db.url, dataDir, apiKey });
try {
  const sql = db.database.sql;
  const [project] = await sql`SELECT id FROM projects WHERE name = 'default'`;
  const [host] = await sql`SELECT id FROM hosts ORDER BY created_at LIMIT 1`;
  const [{ n }] = (await sql`SELECT count(*)::int AS n FROM vms WHERE project_id = ${project!.id}`) as unknown as [{ n: number }];
  const total = Number(values.vms);
  log(`list path at ${total} VMs (${n} there already)`);
  const r = await listPath({
    sql,
    url: hangar.url,
    apiKey,
    project_id: project!.id as string,
    host_id: host!.id as string,
    seeded: n,
    total: Math.max(total, n),
    seconds: Number(values.seconds),
  });
  for (const [name, l] of Object.entries({ first: r.first, deep: r.deep }))
    console.log(`${name.padEnd(5)} @${r.vms}: p50 ${l.p50_ms} ms  p99 ${l.p99_ms} ms  ${l.rps.toFixed(0)}/s`);
  console.log(`deep p99 / first p99: ${r.deep_over_first_p99.toFixed(2)}`);
} finally {
  await hangar.stop();
  await db.close();
  await rm(dataDir, { recursive: true, force: true });
}
