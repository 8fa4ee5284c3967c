/**
 * `pnpm --filter @hangar/server bench:worker`: the worker section of `pnpm bench` alone, against
 * `hangar serve` (its own process) on a fresh embedded PostgreSQL, a few rounds in a row (each
 * on VMs of its own, made through the API first; the first round warms the server up).
 *   --vms N      VMs started per round (default 400, as in `pnpm bench`)
 *   --rounds N   rounds (default 3)
 */
import { parseArgs } from 'node:util';
import { BENCH_API_KEY, startBenchHangar } from './lib/bench-hangar.js';
import { benchDatabase } from './lib/database.js';
import { workerPath } from './sections/worker.js';
import { writePath } from './sections/write.js';

const { values } = parseArgs({ options: { vms: { type: 'string', default: '400' }, rounds: { type: 'string', default: '3' } } });
// Room for every round's VMs on the one host (cpus, memory MB, disk GB).
process.env.HANGAR_SIM_CAPACITY ??= '100000,100000000,10000000';
const db = await benchDatabase();
const { hangar, ids, close } = await startBenchHangar({ url: db.url, sql: db.database.sql });
try {
  for (let round = 1; round <= Number(values.rounds); round++) {
    const count = Number(values.vms);
    const { vm_ids } = await writePath({ url: hangar.url, apiKey: BENCH_API_KEY, databaseUrl: db.url, ...ids, count, concurrency: 16 });
    const w = await workerPath({ url: hangar.url, apiKey: BENCH_API_KEY, sql: db.database.sql, vm_ids, waiters: 16, rounds: 1 });
    console.log(
      `round ${round}: worker ${w.ops_per_s.toFixed(0)} ops/s (${w.ratio.toFixed(2)}x of ${w.baseline_claims_per_s.toFixed(0)} bare claims/s)  ` +
        `change -> wait p50 ${w.wait_p50_ms.toFixed(0)} ms`,
    );
  }
} finally {
  await close();
  await db.close();
}
