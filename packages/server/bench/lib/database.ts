import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectPostgres, type Database, openDatabase } from '@hangar/core';

export interface BenchDatabase {
  /** A URL every process of the run connects to. */
  url: string;
  database: Database;
  close(): Promise<void>;
}

/**
 * A fresh database for one run: a new database on the server `adminUrl` names (dropped at the
 * end), or an embedded PostgreSQL in a temporary directory.
 */
export async function benchDatabase(adminUrl?: string): Promise<BenchDatabase> {
  if (adminUrl) {
    const name = `hangar_bench_${randomBytes(5).toString('hex')}`;
    const admin = connectPostgres(adminUrl, { max: 1, onnotice: () => {} });
    await admin.unsafe(`CREATE DATABASE ${name}`);
    const url = new URL(adminUrl);
    url.pathname = `/${name}`;
    const database = await openDatabase({ url: url.toString(), max: 20 });
    return {
      url: url.toString(),
      database,
      async close() {
        await database.close();
        await admin.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
        await admin.end();
      },
    };
  }
  const dir = await mkdtemp(join(tmpdir(), 'hangar-bench-'));
  const database = await openDatabase({ dataDir: dir, max: 20 });
  return {
    url: database.url,
    database,
    async close() {
      await database.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
