import { execFile, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, existsSync, openSync } from 'node:fs';
import { chmod, chown, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { privateDir } from '../files/private.js';
import { hasDied, isAlive } from '../processes/alive.js';
import { connectPostgres } from './connect.js';
import { postgresBinaries } from './postgres-binaries.js';

export interface EmbeddedOptions {
  /** Directory that holds the cluster (created on first use). */
  dir: string;
  /** Trade durability for speed: for tests and benchmarks only. */
  unsafeFast?: boolean;
  /** The port, which names the socket file `.s.PGSQL.<port>` (default 5432). */
  port?: number;
}

export interface EmbeddedCluster {
  /** Connection string for the `hangar` database. */
  url: string;
  /** Connection string for the `postgres` maintenance database. */
  adminUrl: string;
  port: number;
  /** `fast` (the default) cuts sessions and shuts down cleanly; `immediate` quits without a checkpoint, as a crash would (recovery at the next start). */
  stop(mode?: 'fast' | 'immediate'): Promise<void>;
}

interface Credentials {
  user: string;
  password: string;
}

/** Whom PostgreSQL runs as: this process's user, or `postgres` when we are root (it refuses root). */
interface RunAs {
  uid?: number;
  gid?: number;
}

const DATABASE = 'hangar';
const READY_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 30_000;
const run = promisify(execFile);

/**
 * Starts (initialising on first use) a PostgreSQL cluster in `dir` from binaries on the npm
 * registry, so a new user needs nothing installed. A postmaster left running by a process that
 * died is adopted rather than fought over.
 *
 * The postmaster runs in its own session: a Ctrl-C meant for Hangar must not stop the database
 * under a shutdown that still has leases to release. Whoever started it stops it (`stop()`).
 */
export async function startEmbeddedPostgres(opts: EmbeddedOptions): Promise<EmbeddedCluster> {
  await privateDir(opts.dir);
  const runAs = await postgresUser();
  // PostgreSQL refuses to run as root; it then runs as `postgres`, which must pass through the
  // directory to its own (0700) cluster directory, without listing or reading anything else.
  if (runAs.uid !== undefined) await chmod(opts.dir, 0o711);
  const pgDir = join(opts.dir, 'postgres');
  const creds = await loadCredentials(opts.dir);

  const adopted = await adoptRunningPostmaster(pgDir, creds);
  if (adopted) return adopted;
  await clearZombieLocks(pgDir);

  const bin = await postgresBinaries();
  const logPath = join(opts.dir, 'postgres.log');
  if (!existsSync(join(pgDir, 'PG_VERSION'))) await initialise(bin.initdb, pgDir, creds, runAs, opts.dir);

  const port = opts.port ?? 5432;
  const socketDir = await socketDirectory(pgDir, runAs);
  const flags = [
    '-D',
    pgDir,
    '-p',
    String(port),
    // A unix socket only: nothing on the host's loopback (where NAT guests reach through 10.0.2.2).
    '-c',
    'listen_addresses=',
    '-c',
    `unix_socket_directories=${socketDir}`,
    '-c',
    'unix_socket_permissions=0700',
    '-c',
    'max_connections=300',
    ...(opts.unsafeFast ? ['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off'] : []),
  ];
  const log = openSync(logPath, 'a', 0o600);
  const child = spawn(bin.postgres, flags, {
    ...runAs,
    detached: true,
    stdio: ['ignore', log, log],
    env: { ...process.env, LC_MESSAGES: 'C' },
  });
  closeSync(log);
  let exited = false;
  child.on('exit', () => (exited = true));
  child.on('error', () => (exited = true));
  child.unref();
  try {
    await waitUntilReady(pgDir, child.pid, () => exited);
  } catch (err) {
    if (!exited && child.pid) process.kill(child.pid, 'SIGQUIT');
    const tail = await readFile(logPath, 'utf8').catch(() => '');
    throw new Error(`could not start the embedded PostgreSQL in ${pgDir}: ${(err as Error).message}\n${tail.slice(-2000)}`);
  }
  const urls = clusterUrls(creds, socketDir, port);
  await ensureDatabase(urls.adminUrl);
  const pid = child.pid!;
  return { ...urls, port, stop: (mode) => stopPostmaster(pid, () => exited, mode) };
}

async function postgresUser(): Promise<RunAs> {
  if (process.getuid?.() !== 0) return {};
  const lookup = async () => ({
    uid: Number((await run('id', ['-u', 'postgres'])).stdout.trim()),
    gid: Number((await run('id', ['-g', 'postgres'])).stdout.trim()),
  });
  try {
    return await lookup();
  } catch {
    await run('groupadd', ['--system', 'postgres']).catch(() => undefined);
    await run('useradd', ['--system', '-g', 'postgres', 'postgres']);
    return lookup();
  }
}

async function initialise(initdb: string, pgDir: string, creds: Credentials, runAs: RunAs, dir: string): Promise<void> {
  await mkdir(pgDir, { recursive: true, mode: 0o700 });
  const pwfile = join(dir, `.pwfile-${randomBytes(6).toString('hex')}`);
  await writeFile(pwfile, `${creds.password}\n`, { mode: 0o600 });
  if (runAs.uid !== undefined) {
    await chown(pgDir, runAs.uid, runAs.gid!);
    await chown(pwfile, runAs.uid, runAs.gid!);
  }
  try {
    await run(
      initdb,
      [
        `--pgdata=${pgDir}`,
        '--auth=scram-sha-256',
        `--username=${creds.user}`,
        `--pwfile=${pwfile}`,
        '--encoding=UTF8',
        // The builtin provider's C.UTF-8 does not depend on the locales this machine happens to have.
        '--locale-provider=builtin',
        '--builtin-locale=C.UTF-8',
        '--locale=C',
      ],
      { ...runAs, env: { ...process.env, LC_MESSAGES: 'C' } },
    );
  } catch (err) {
    const e = err as Error & { stderr?: string };
    throw new Error(`initdb failed in ${pgDir}: ${e.stderr || e.message}`);
  } finally {
    await rm(pwfile, { force: true });
  }
}

/** What a postmaster writes in its data directory's `postmaster.pid`; null when there is none. */
interface PostmasterLock {
  pid: number;
  /** NaN where the line is not there yet. */
  port: number;
  socketDir: string;
  /** `starting`, `ready`, `stopping`... once the postmaster has said. */
  status: string;
}

async function readPostmasterLock(pgDir: string): Promise<PostmasterLock | null> {
  const text = await readFile(join(pgDir, 'postmaster.pid'), 'utf8').catch(() => null);
  if (text === null) return null;
  // Lines: pid, data directory, start time, port, socket directory, listen address, shared memory key, status.
  const lines = text.split('\n');
  const pid = Number(lines[0]);
  if (!Number.isInteger(pid) || pid <= 0) return null;
  return {
    pid,
    port: /^\d+$/.test(lines[3] ?? '') ? Number(lines[3]) : Number.NaN,
    socketDir: lines[4]?.trim() ?? '',
    status: lines[7]?.trim() ?? '',
  };
}

/** Ready when postmaster.pid names our process and says "ready" (what `pg_ctl -w` waits for). */
async function waitUntilReady(pgDir: string, pid: number | undefined, hasExited: () => boolean): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (hasExited() || pid === undefined) throw new Error('postgres exited during start-up');
    const lock = await readPostmasterLock(pgDir);
    if (lock?.pid === pid && lock.status === 'ready') return;
    await sleep(25);
  }
  throw new Error(`not ready after ${READY_TIMEOUT_MS / 1000} s`);
}

/** Fast shutdown (SIGINT): open sessions are cut, the cluster is left consistent. Immediate (SIGQUIT): as a crash, recovered at the next start. */
async function stopPostmaster(pid: number, hasExited: () => boolean = () => false, mode: 'fast' | 'immediate' = 'fast'): Promise<void> {
  if (hasExited() || !isAlive(pid)) return;
  process.kill(pid, mode === 'immediate' ? 'SIGQUIT' : 'SIGINT');
  const deadline = Date.now() + STOP_TIMEOUT_MS;
  while (!hasExited() && isAlive(pid) && Date.now() < deadline) await sleep(25);
}

async function loadCredentials(dir: string): Promise<Credentials> {
  const file = join(dir, 'postgres-credentials.json');
  if (existsSync(file)) return JSON.parse(await readFile(file, 'utf8')) as Credentials;
  const creds = { user: 'hangar', password: randomBytes(18).toString('base64url') };
  await writeFile(file, JSON.stringify(creds), { mode: 0o600 });
  return creds;
}

/** Connection strings in libpq's unix-socket form (read by `connectPostgres`). */
function clusterUrls(creds: Credentials, socketDir: string, port: number): { url: string; adminUrl: string } {
  const base = `postgres://${encodeURIComponent(creds.user)}:${encodeURIComponent(creds.password)}@localhost:${port}`;
  const host = `?host=${encodeURIComponent(socketDir)}`;
  return { url: `${base}/${DATABASE}${host}`, adminUrl: `${base}/postgres${host}` };
}

/** Longest socket directory: a unix socket path (dir + `/.s.PGSQL.NNNNN`) has 107 bytes at most. */
const MAX_SOCKET_DIR = 90;

/**
 * The cluster's own directory holds its socket (private to the user PostgreSQL runs as); a
 * data directory too deep for a socket path gets a private directory under the system's temp.
 */
async function socketDirectory(pgDir: string, runAs: RunAs): Promise<string> {
  if (Buffer.byteLength(pgDir) <= MAX_SOCKET_DIR) return pgDir;
  const dir = join(tmpdir(), `hangar-pg-${createHash('sha256').update(pgDir).digest('hex').slice(0, 12)}`);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
  if (runAs.uid !== undefined) await chown(dir, runAs.uid, runAs.gid!);
  return dir;
}

async function ensureDatabase(adminUrl: string): Promise<void> {
  const sql = connectPostgres(adminUrl, { max: 1, onnotice: () => {} });
  try {
    const found = await sql`SELECT 1 FROM pg_database WHERE datname = ${DATABASE}`;
    if (found.length === 0) await sql.unsafe(`CREATE DATABASE ${DATABASE}`);
  } finally {
    await sql.end();
  }
}

/**
 * A postmaster killed after Hangar died is handed to PID 1; where PID 1 never reaps (a container
 * without an init) it stays a zombie, and PostgreSQL, which asks only `kill(pid, 0)`, would
 * refuse every later start for the locks it thinks are held: the data directory's
 * postmaster.pid and its socket's `.s.PGSQL.<port>.lock`. A zombie holds nothing: both go.
 * (PostgreSQL still checks its shared memory for live backends before it starts.)
 */
async function clearZombieLocks(pgDir: string): Promise<void> {
  const lock = await readPostmasterLock(pgDir);
  if (!lock || !hasDied(lock.pid)) return;
  if (lock.socketDir && Number.isInteger(lock.port)) await clearIfHeldBy(join(lock.socketDir, `.s.PGSQL.${lock.port}.lock`), lock.pid);
  await clearIfHeldBy(join(pgDir, 'postmaster.pid'), lock.pid);
}

/**
 * Removes a lock file if it (still) names `pid`. It is first moved aside in one step, so that
 * what is judged is the file that was there: if another start replaced it meanwhile with its
 * own live postmaster's, that one is put back, not removed.
 */
async function clearIfHeldBy(file: string, pid: number): Promise<void> {
  const aside = `${file}.stale-${randomBytes(4).toString('hex')}`;
  try {
    await rename(file, aside);
  } catch {
    return; // gone already
  }
  const holder = Number((await readFile(aside, 'utf8').catch(() => '')).split('\n')[0]);
  if (holder === pid) await rm(aside, { force: true });
  else await rename(aside, file);
}

/** A postmaster.pid whose process still lives means a cluster this directory already runs. */
async function adoptRunningPostmaster(pgDir: string, creds: Credentials): Promise<EmbeddedCluster | null> {
  const lock = await readPostmasterLock(pgDir);
  if (!lock || !Number.isInteger(lock.port) || !lock.socketDir || !isAlive(lock.pid)) return null;
  const { pid, port, socketDir } = lock;
  const urls = clusterUrls(creds, socketDir, port);
  try {
    await ensureDatabase(urls.adminUrl);
  } catch {
    return null;
  }
  return { ...urls, port, stop: (mode) => stopPostmaster(pid, undefined, mode) };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
