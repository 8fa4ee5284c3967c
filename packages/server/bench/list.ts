/**
 * `pnpm --filter @hangar/server bench:list`: the list section of `pnpm bench` alone, at
 * 1,000,000 VMs (or --vms N), against `hangar serve` (its own process, worker on).
 *   --database-url URL  a database to use as it is: VMs seeded into it stay, so a second run
 *                       seeds only what is missing (default: a fresh embedded PostgreSQL)
 *   --seconds N         seconds of load per page (default 10)
 */
import { parseArgs } from 'node:util';
import { openDatabase } from '@hangar/core';
import { BENCH_API_KEY, startBenchHangar } from './lib/bench-hangar.js';
import { benchDatabase } from './lib/database.js';
import { listPath } from './sections/list.js';

const { values } = parseArgs({
  options: { vms: { type: 'string', default: '1000000' }, seconds: { type: 'string', default: '10' }, 'database-url': { type: 'string' } },
});
const log = (m: string) => process.stderr.write(`[bench] ${m}\n`);
const given = values['database-url'];
const db = given
  ? await openDatabase({ url: given, max: 5 }).then((database) => ({ url: given, database, close: () => database.close() }))
  : await benchDatabase();
const { hangar, ids, close } = await startBenchHangar({ url: db.url, sql: db.database.sql });
try {
  const sql = db.database.sql;
  const [{ n }] = (await sql`SELECT count(*)::int AS n FROM vms WHERE project_id = ${ids.project_id}`) as unknown as [{ n: number }];
  const total = Number(values.vms);
  log(`list path at ${total} VMs (${n} there already)`);
  const r = await listPath({
    sql,
    url: hangar.url,
    apiKey: BENCH_API_KEY,
    ...ids,
    seeded: n,
    total: Math.max(total, n),
    seconds: Number(values.seconds),
  });
  for (const [name, l] of Object.entries({ first: r.first, deep: r.deep }))
    console.log(`${name.padEnd(5)} @${r.vms}: p50 ${l.p50_ms} ms  p99 ${l.p99_ms} ms  ${l.rps.toFixed(0)}/s`);
  console.log(`deep p99 / first p99: ${r.deep_over_first_p99.toFixed(2)}`);
} finally {
  await close();
  await db.close();
}
