import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type postgres from 'postgres';
import { type Proc, startHangar } from './processes.js';

/** The admin key every bench starts its server with. */
export const BENCH_API_KEY = 'hgr_bench_key_0123456789abcdefghijkl';

export interface BenchHangar {
  hangar: Proc;
  /** The server's default project and its first host: where a bench seeds and creates. */
  ids: { project_id: string; host_id: string };
  /** Stops the server and removes its data directory. */
  close(): Promise<void>;
}

/** `hangar serve` on the bench's database (`url`, read with `sql`), with a data directory of its own. */
export async function startBenchHangar(db: { url: string; sql: postgres.Sql }): Promise<BenchHangar> {
  const dataDir = await mkdtemp(join(tmpdir(), 'hangar-bench-data-'));
  const hangar = await startHangar({ databaseUrl: db.url, dataDir, apiKey: BENCH_API_KEY });
  const close = async () => {
    await hangar.stop();
    await rm(dataDir, { recursive: true, force: true });
  };
  try {
    const [project] = await db.sql`SELECT id FROM projects WHERE name = 'default'`;
    const [host] = await db.sql`SELECT id FROM hosts ORDER BY created_at LIMIT 1`;
    return { hangar, ids: { project_id: project!.id as string, host_id: host!.id as string }, close };
  } catch (err) {
    await close();
    throw err;
  }
}
