/**
 * `pnpm --filter @hangar/server bench:read`: the read section of `pnpm bench` alone (`vms.get`
 * over tRPC and REST against the bare route), against `hangar serve` on a fresh embedded
 * PostgreSQL, a few rounds in a row (the first one warms the server up).
 *   --seconds N   seconds per measurement (default 5)
 *   --rounds N    rounds (default 3)
 */
import { parseArgs } from 'node:util';
import { BENCH_API_KEY, startBenchHangar } from './lib/bench-hangar.js';
import { benchDatabase } from './lib/database.js';
import { startBaseline } from './lib/processes.js';
import { seedVms } from './lib/seed.js';
import { readPath } from './sections/read.js';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '5' }, rounds: { type: 'string', default: '3' } } });
const db = await benchDatabase();
const { hangar, ids, close } = await startBenchHangar({ url: db.url, sql: db.database.sql });
const baseline = await startBaseline(db.url);
try {
  const sql = db.database.sql;
  await seedVms(sql, { ...ids, from: 1, count: 1_000 });
  const [one] = await sql`SELECT id FROM vms WHERE name = 'seed-1'`;
  for (let round = 1; round <= Number(values.rounds); round++) {
    const r = await readPath({
      hangar,
      baseline,
      apiKey: BENCH_API_KEY,
      vmId: one!.id as string,
      seconds: Number(values.seconds),
      connections: 16,
    });
    console.log(
      `round ${round}: tRPC ${r.trpc.rps.toFixed(0)}/s (${r.ratio_trpc.toFixed(2)}x, ${r.cpu_us.trpc.toFixed(0)} µs)  ` +
        `REST ${r.rest.rps.toFixed(0)}/s (${r.ratio_rest.toFixed(2)}x, ${r.cpu_us.rest.toFixed(0)} µs)  ` +
        `bare ${r.baseline.rps.toFixed(0)}/s (${r.cpu_us.baseline.toFixed(0)} µs)  RSS peak ${(r.rss_under_load / 2 ** 20).toFixed(1)} MB`,
    );
  }
} finally {
  await close();
  await baseline.stop();
  await db.close();
}
