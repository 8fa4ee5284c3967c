import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { drizzle, type PostgresJsDatabase } from 'drizzle-orm/postgres-js';
import type postgres from 'postgres';
import { publisherOf, withNoticesAfterCommit } from './after-commit.js';
import { connectPostgres } from './connect.js';
import { startEmbeddedPostgres } from './embedded.js';
import { runMigrations } from './migrate.js';
import { prepareEveryQuery } from './prepared-statements.js';
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
  /** How long opening took, in ms: the embedded PostgreSQL's start (0 for an external one), and the migrations with the first connection. */
  opened: { postgres_ms: number; migrations_ms: number };
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
  /** How long to keep trying a database that does not answer yet (default 0: fail at once). */
  wait_ms?: number;
  /** Told of each failed try while waiting. */
  onWait?: (err: unknown, attempt: number) => void;
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
  const t0 = performance.now();
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
  prepareEveryQuery(db);
  retryConflicts(db);
  publisherOf(db);
  const t1 = performance.now();
  try {
    await waitForDatabase(sql, opts);
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
    opened: { postgres_ms: Math.round(t1 - t0), migrations_ms: Math.round(performance.now() - t1) },
    close: () =>
      (closed ??= (async () => {
        // Notices of what committed go out first, if the database answers soon.
        await Promise.race([publisherOf(db).flushed(), sleep(2_000)]);
        await sql.end({ timeout: 5 });
        await stopEmbedded?.();
      })()),
  };
}

/** SQLSTATEs of a transaction that lost to a concurrent one and may simply be run again. */
const CONFLICTS = new Set(['40P01', '40001']);
/** How many times a transaction is run before its deadlock or serialization failure is the caller's. */
export const TRANSACTION_ATTEMPTS = 4;

/** The SQLSTATE of a query error PostgreSQL answered, through drizzle's wrapping (not a Node error's code, such as EPIPE). */
export function sqlState(err: unknown): string | undefined {
  for (let e: unknown = err, depth = 0; e && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    const { name, code } = e as { name?: unknown; code?: unknown };
    if (name === 'PostgresError' && typeof code === 'string') return code;
  }
  return undefined;
}

export const isConflict = (err: unknown) => CONFLICTS.has(sqlState(err) ?? '');

/** postgres.js and socket errors that mean the database cannot be reached. */
const DATABASE_DOWN = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'CONNECTION_CLOSED',
  'CONNECTION_ENDED',
  'CONNECTION_DESTROYED',
  'CONNECT_TIMEOUT',
  // too_many_connections: a restarting server not yet taking everyone back.
  '53300',
]);

/** SQLSTATE classes of a database going away: connection exceptions (08) and operator intervention (57P01-57P05: shutdown, crash, cannot connect now). */
const DATABASE_DOWN_STATES = /^(08[0-9A-Z]{3}|57P0[1-5])$/;

/** Whether an error means the database is out of reach (not that a query was wrong): worth trying again shortly. */
export function isDatabaseUnavailable(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    const { code, syscall } = e as { code?: unknown; syscall?: unknown };
    if (typeof code === 'string' && (DATABASE_DOWN.has(code) || DATABASE_DOWN_STATES.test(code))) return true;
    // A unix socket that is not there: the server is down (not a missing file of ours). One
    // whose listen queue is full (EAGAIN: a postmaster starting, many connecting at once): busy.
    if ((code === 'ENOENT' || code === 'EAGAIN') && syscall === 'connect') return true;
    // A write to the database's socket after PostgreSQL went away. EPIPE alone may be a driver's
    // (a QEMU monitor's socket), which is a failure of that step; postgres.js marks the errors
    // it fails its queries with by giving them the query (`query`, `parameters`).
    if (code === 'EPIPE' && 'query' in (e as object) && 'parameters' in (e as object)) return true;
  }
  return false;
}

/**
 * Every top-level transaction (`db.transaction`) is run again, a few times with a short random
 * pause, when PostgreSQL ended it for a deadlock (40P01) or a serialization failure (40001): the
 * transaction was rolled back whole, so running it again is safe, and its caller never sees a
 * conflict that a second try resolves. Savepoints (`tx.transaction`) are not retried on their
 * own: the whole transaction is. What the transaction announces (`announce`) is sent once it
 * has committed.
 */
function retryConflicts(db: Db): void {
  const once = db.transaction.bind(db);
  db.transaction = (async (fn: Parameters<Db['transaction']>[0], config?: Parameters<Db['transaction']>[1]) => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await withNoticesAfterCommit(db, (hold) =>
          once((tx) => {
            hold(tx);
            return fn(tx);
          }, config),
        );
      } catch (err) {
        if (attempt >= TRANSACTION_ATTEMPTS || !isConflict(err)) throw err;
        await sleep(5 + Math.random() * 20 * attempt);
      }
    }
  }) as Db['transaction'];
}

/**
 * The first connection, waited for: an external database that is not up yet (starting in the
 * same boot, restarting) is tried again every second for `wait_ms`, saying so each time.
 */
async function waitForDatabase(sql: postgres.Sql, opts: OpenDatabaseOptions): Promise<void> {
  const until = Date.now() + (opts.wait_ms ?? 0);
  for (let attempt = 1; ; attempt++) {
    try {
      await sql`SELECT 1`;
      return;
    } catch (err) {
      if (Date.now() >= until || sqlState(err) === '28P01' || sqlState(err) === '3D000') throw err;
      opts.onWait?.(err, attempt);
      await sleep(1_000);
    }
  }
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
