import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { diedState, hasDied, isAlive } from '../src/processes/alive.js';
import { connectPostgres } from '../src/store/connect.js';
import { startEmbeddedPostgres } from '../src/store/embedded.js';

const dirs: string[] = [];
const parents: ChildProcess[] = [];
afterAll(async () => {
  for (const p of parents) p.kill('SIGKILL');
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

/**
 * A process that has died and is never reaped: `sleep 0`'s parent execs into a `sleep` that
 * never waits. Owned by the user PostgreSQL runs as (when we are root, `postgres`): PostgreSQL
 * takes a pid it may not signal for a stale one, so only a zombie of its own user stops it.
 */
async function zombie(): Promise<number> {
  const user = process.getuid?.() === 0 ? { uid: idOf('-u'), gid: idOf('-g') } : {};
  const parent = spawn('sh', ['-c', 'sleep 0 & echo $!; exec sleep 120'], { ...user, stdio: ['ignore', 'pipe', 'ignore'] });
  parents.push(parent);
  const [line] = (await once(parent.stdout!, 'data')) as [Buffer];
  const pid = Number(line.toString().trim());
  // A loaded machine can take a while to start and end a process.
  await expect.poll(() => hasDied(pid), { timeout: 15_000 }).toBe(true);
  return pid;
}

const idOf = (flag: string) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
const pidOf = async (pgDir: string) => Number((await readFile(join(pgDir, 'postmaster.pid'), 'utf8')).split('\n')[0]);

describe('a process that has died', () => {
  it('is not alive when it is a zombie, though kill(pid, 0) still answers', async () => {
    const pid = await zombie();
    expect(() => process.kill(pid, 0)).not.toThrow();
    expect(isAlive(pid)).toBe(false);
    expect(isAlive(process.pid)).toBe(true);
  });

  it("reads the state after the command's last parenthesis", () => {
    expect(diedState('42 (a) Z (b) S 1 2 3')).toBe(false);
    expect(diedState('42 (a) S (b) Z 1 2 3')).toBe(true);
    expect(diedState('42 (sleep) X 1')).toBe(true);
    expect(diedState('42 (sleep) R 1')).toBe(false);
  });
});

describe('the embedded PostgreSQL', () => {
  it('starts over a lock file whose postmaster was killed and never reaped (a container without an init)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hangar-embedded-'));
    dirs.push(dir);
    const first = await startEmbeddedPostgres({ dir, unsafeFast: true });
    const pgDir = join(dir, 'postgres');
    const postmaster = await pidOf(pgDir);
    process.kill(postmaster, 'SIGKILL');
    await expect.poll(() => isAlive(postmaster), { timeout: 10_000 }).toBe(false);
    // The lock files a killed postmaster leaves, as though it were a zombie nobody reaps.
    const dead = await zombie();
    for (const file of ['postmaster.pid', `.s.PGSQL.${first.port}.lock`]) {
      const lines = (await readFile(join(pgDir, file), 'utf8')).split('\n');
      expect(Number(lines[0])).toBe(postmaster);
      lines[0] = String(dead);
      await writeFile(join(pgDir, file), lines.join('\n'));
    }

    const second = await startEmbeddedPostgres({ dir, unsafeFast: true });
    expect(second.port).toBe(first.port);
    const sql = connectPostgres(second.url, { max: 1 });
    try {
      expect(await sql`SELECT 1 AS one`).toEqual([{ one: 1 }]);
    } finally {
      await sql.end();
      await second.stop();
    }
  }, 60_000);

  it('adopts a postmaster that is still running instead of starting a second', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hangar-embedded-'));
    dirs.push(dir);
    await startEmbeddedPostgres({ dir, unsafeFast: true });
    const pid = await pidOf(join(dir, 'postgres'));
    const again = await startEmbeddedPostgres({ dir, unsafeFast: true });
    expect(await pidOf(join(dir, 'postgres'))).toBe(pid);
    await again.stop();
    expect(isAlive(pid)).toBe(false);
  }, 60_000);
});
