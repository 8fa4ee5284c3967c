/**
 * `pnpm --filter @hangar/server bench:write`: the write section of `pnpm bench` alone, against
 * `hangar serve` (its own process, worker on) on a fresh embedded PostgreSQL, a few rounds in a
 * row (the first one warms the server up).
 *   --creates N   creates per round and kind (default 400)
 *   --rounds N    rounds (default 3)
 */
import { parseArgs } from 'node:util';
import { BENCH_API_KEY, startBenchHangar } from './lib/bench-hangar.js';
import { benchDatabase } from './lib/database.js';
import { writePath } from './sections/write.js';

const { values } = parseArgs({ options: { creates: { type: 'string', default: '400' }, rounds: { type: 'string', default: '3' } } });
// Room for every round's VMs on the one host (cpus, memory MB, disk GB).
process.env.HANGAR_SIM_CAPACITY ??= '100000,100000000,10000000';
const db = await benchDatabase();
const { hangar, ids, close } = await startBenchHangar({ url: db.url, sql: db.database.sql });
try {
  for (let round = 1; round <= Number(values.rounds); round++) {
    const w = await writePath({
      url: hangar.url,
      apiKey: BENCH_API_KEY,
      databaseUrl: db.url,
      ...ids,
      count: Number(values.creates),
      concurrency: 16,
    });
    console.log(
      `round ${round}: 201 ${w.accepted_per_s.toFixed(0)}/s (${w.accepted_ratio.toFixed(2)}x)  ` +
        `?wait ${w.hangar_per_s.toFixed(0)}/s (${w.ratio.toFixed(2)}x)  raw INSERTs of its rows ${w.baseline_per_s.toFixed(0)}/s (VM row alone ${w.vm_row_per_s.toFixed(0)}/s)`,
    );
  }
} finally {
  await close();
  await db.close();
}
