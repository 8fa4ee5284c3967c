import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { migrate } from 'drizzle-orm/postgres-js/migrator';
import type { Db } from './database.js';

/**
 * The SQL migrations: beside the sources (`packages/core/drizzle`, two levels above this file)
 * or, in the built server, copied next to its bundle (`dist/drizzle`).
 */
const CANDIDATES = ['../../drizzle', './drizzle'].map((p) => fileURLToPath(new URL(p, import.meta.url)));
export const MIGRATIONS_FOLDER = CANDIDATES.find((dir) => existsSync(`${dir}/meta/_journal.json`)) ?? CANDIDATES[0]!;

/** Applies pending migrations; an advisory lock keeps several processes from racing at start. */
export async function runMigrations(db: Db): Promise<void> {
  const lockConn = await db.$client.reserve();
  try {
    await lockConn`SELECT pg_advisory_lock(727274001)`;
    await migrate(db, { migrationsFolder: MIGRATIONS_FOLDER });
  } finally {
    await lockConn`SELECT pg_advisory_unlock(727274001)`;
    lockConn.release();
  }
}
