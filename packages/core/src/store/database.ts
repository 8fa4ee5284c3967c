import { resolve } from 'node:path';
import { drizzle, type PostgresJsDatabase } from 'drizzle-orm/postgres-js';
import type postgres from 'postgres';
import { connectPostgres } from './connect.js';
import { startEmbeddedPostgres } from './embedded.js';
import { runMigrations } from './migrate.js';
import * as schema from './schema.js';

export type Db = PostgresJsDatabase<typeof schema> & { $client: postgres.Sql };
/** A transaction or the database itself: whatever a query runs on. */
export type Tx = Parameters<Parameters<Db['transaction']>[0]>[0] | Db;

export interface Database {
  db: Db;
  /** The raw postgres.js client, for LISTEN/NOTIFY and hand-written SQL. */
  sql: postgres.Sql;
  url: string;
  /** True when this process started the embedded PostgreSQL. */
  embedded: boolean;
  close(): Promise<void>;
}

export interface OpenDatabaseOptions {
  /** A PostgreSQL URL; defaults to DATABASE_URL, else an embedded cluster in the data directory. */
  url?: string;
  /** Where the embedded cluster lives; defaults to HANGAR_DATA_DIR, else `.hangar/`. */
  dataDir?: string;
  /** Apply pending migrations (default true). */
  migrate?: boolean;
  /** Connection pool size (default 10). */
  max?: number;
  /** Embedded only: fsync off, for tests and benchmarks. */
  unsafeFast?: boolean;
  /** Called with each statement sent (the benchmark counts what an idle fleet costs). */
  onStatement?: (query: string) => void;
}

/**
 * The data directory: given, HANGAR_DATA_DIR, or `.hangar` where the user ran the command.
 * pnpm runs a package's script in the package's folder but says where it was typed in INIT_CWD,
 * so `pnpm start` at the repository root keeps its data in `./.hangar` there.
 */
export function dataDirectory(dataDir?: string): string {
  return resolve(dataDir ?? process.env.HANGAR_DATA_DIR ?? resolve(process.env.INIT_CWD ?? process.cwd(), '.hangar'));
}

export async function openDatabase(opts: OpenDatabaseOptions = {}): Promise<Database> {
  let url = opts.url ?? process.env.DATABASE_URL;
  let stopEmbedded: (() => Promise<void>) | undefined;
  if (!url) {
    const cluster = await startEmbeddedPostgres({ dir: dataDirectory(opts.dataDir), unsafeFast: opts.unsafeFast });
    url = cluster.url;
    stopEmbedded = cluster.stop;
  }
  const sql = connectPostgres(url, {
    max: opts.max ?? 10,
    // Reconnect within a second once the database is back (postgres.js's default waits up to
    // 20 s after a few failed attempts, so a short outage became a long one).
    backoff: (attempt: number) => Math.min(0.05 * 2 ** attempt, 1),
    onnotice: () => {},
    connection: { application_name: 'hangar' },
    ...(opts.onStatement ? { debug: (_conn: number, query: string) => opts.onStatement!(query) } : {}),
  });
  const db = drizzle(sql, { schema }) as Db;
  try {
    await sql`SELECT 1`;
    if (opts.migrate !== false) await runMigrations(db);
  } catch (err) {
    await sql.end({ timeout: 1 });
    await stopEmbedded?.();
    throw err;
  }
  let closed: Promise<void> | undefined;
  return {
    db,
    sql,
    url,
    embedded: !!stopEmbedded,
    close: () =>
      (closed ??= (async () => {
        await sql.end({ timeout: 5 });
        await stopEmbedded?.();
      })()),
  };
}

/** Whether the database answers (readiness checks). */
export async function pingDatabase(db: Db): Promise<boolean> {
  try {
    await db.$client`SELECT 1`;
    return true;
  } catch {
    return false;
  }
}
