/**
 * `pnpm --filter @hangar/server bench:write`: the write section of `pnpm bench` alone, against
 * `hangar serve` (its own process, worker on) on a fresh embedded PostgreSQL, a few rounds in a
 * row (the first one warms the server up).
 *   --creates N   creates per round and kind (default 400)
 *   --rounds N    rounds (default 3)
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { benchDatabase } from './lib/database.js';
import { startHangar } from './lib/processes.js';
import { writePath } from './sections/write.js';

const { values } = parseArgs({ options: { creates: { type: 'string', default: '400' }, rounds: { type: 'string', default: '3' } } });
const apiKey = 'hgr_bench_key_0123456789abcdefghijkl';
// Room for every round's VMs on the one host (cpus, memory MB, disk GB).
process.env.HANGAR_SIM_CAPACITY ??= '100000,100000000,10000000';
const db = await benchDatabase();
const dataDir = await mkdtemp(join(tmpdir(), 'hangar-bench-data-'));
const hangar = await startHangar({ databaseUrl: db.url, dataDir, apiKey });
try {
  const sql = db.database.sql;
  const [project] = await sql`SELECT id FROM projects WHERE name = 'default'`;
  const [host] = await sql`SELECT id FROM hosts ORDER BY created_at LIMIT 1`;
  const ids = { project_id: project!.id as string, host_id: host!.id as string };
  for (let round = 1; round <= Number(values.rounds); round++) {
    const w = await writePath({ url: hangar.url, apiKey, databaseUrl: db.url, ...ids, count: Number(values.creates), concurrency: 16 });
    console.log(
      `round ${round}: 201 ${w.accepted_per_s.toFixed(0)}/s (${w.accepted_ratio.toFixed(2)}x)  ` +
        `?wait ${w.hangar_per_s.toFixed(0)}/s (${w.ratio.toFixed(2)}x)  raw INSERTs ${w.baseline_per_s.toFixed(0)}/s`,
    );
  }
} finally {
  await hangar.stop();
  await db.close();
  await rm(dataDir, { recursive: true, force: true });
}
