import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import type postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectPostgres } from '../src/store/connect.js';
import type { Database } from '../src/store/database.js';
import { createTestDatabase } from '../src/testing/index.js';

// The PostgreSQL client as Hangar runs it (postgres.js with patches/postgres@3.4.9.patch): a
// transaction owns its connection from its BEGIN to its COMMIT, however busy the pool is. A
// connection that went back to the pool inside a transaction would run other requests' writes
// in it (lost at its ROLLBACK), and its own BEGIN failed with UNSAFE_TRANSACTION (a 500).

let database: Database;
const clients: postgres.Sql[] = [];
beforeAll(async () => {
  database = await createTestDatabase({ max: 2 });
  await database.sql`CREATE TABLE client_probe (v text NOT NULL)`;
});
afterAll(async () => {
  await Promise.all(clients.map((c) => c.end({ timeout: 1 })));
  await database?.close();
});

/** postgres.js reads `max_pipeline` (queries sent ahead on one connection, default 100) but does not type it. */
type ClientOptions = postgres.Options<Record<string, postgres.PostgresType>> & { max_pipeline?: number };

function client(options: ClientOptions) {
  const c = connectPostgres(database.url, { onnotice: () => {}, ...options } as postgres.Options<Record<string, postgres.PostgresType>>);
  clients.push(c);
  return c;
}

/** The probe's values, read on a connection of the test's own. */
const values = async () => (await database.sql<{ v: string }[]>`SELECT v FROM client_probe ORDER BY v`).map((r) => r.v);

describe('the PostgreSQL client', () => {
  it("reserves a transaction's connection when its BEGIN is the query that fills the connection's pipeline", async () => {
    await database.sql`TRUNCATE client_probe`;
    const sql = client({ max: 2, max_pipeline: 1 });
    await Promise.all([sql`SELECT 1`, sql`SELECT 1`]);
    // Both connections busy, so the BEGIN is pipelined behind a query in flight.
    const busy = [sql`SELECT pg_sleep(0.2)`.execute(), sql`SELECT pg_sleep(0.2)`.execute()];
    const rolledBack = sql
      .begin(async (tx) => {
        await tx`INSERT INTO client_probe VALUES ('rolled back')`;
        await sleep(100);
        throw new Error('roll it back');
      })
      .catch((err: Error) => err.message);
    await sleep(10);
    // Autocommit writes while the transaction is open: none of them may run inside it.
    const outside = Promise.all(['a', 'b', 'c', 'd'].map((v) => sql`INSERT INTO client_probe VALUES (${v})`));
    await Promise.all(busy);
    expect(await rolledBack).toBe('roll it back');
    await outside;
    expect(await values()).toEqual(['a', 'b', 'c', 'd']);
  });

  it('keeps every transaction whole under a flood of queries, large ones filling the socket among them', async () => {
    await database.sql`TRUNCATE client_probe`;
    const sql = client({ max: 3, max_pipeline: 4 });
    // Parameters large enough that a socket write returns false (the kernel's buffer is full).
    const big = 'x'.repeat(512 * 1024);
    const kept: string[] = [];
    const failures: string[] = [];
    await Promise.all(
      Array.from({ length: 60 }, async (_, i) => {
        const v = `v${String(i).padStart(3, '0')}`;
        try {
          if (i % 3 === 0) {
            await sql`INSERT INTO client_probe VALUES (${v}) RETURNING length(${big}::text)`;
            kept.push(v);
          } else if (i % 3 === 1) {
            await sql.begin(async (tx) => {
              await tx`SELECT length(${big}::text)`;
              await tx`INSERT INTO client_probe VALUES (${v})`;
              await sleep(5);
            });
            kept.push(v);
          } else {
            await sql
              .begin(async (tx) => {
                await tx`INSERT INTO client_probe VALUES (${`${v}-rolled-back`})`;
                await tx`SELECT length(${big}::text)`;
                await sleep(5);
                throw new Error('rolled back');
              })
              .catch((err: Error) => {
                if (err.message !== 'rolled back') throw err;
              });
          }
        } catch (err) {
          failures.push(`${v}: ${(err as Error).message}`);
        }
      }),
    );
    expect(failures).toEqual([]);
    expect(await values()).toEqual(kept.sort());
  });
});

// The pool's queues of connections (postgres.js src/queue.js, patched): an array and the index
// of its head. A connection shifted off for a query is moved by `remove` (which no longer finds
// it) and `push`; a busy pool never empties its busy queue by a shift, so unpatched the shifted
// slots were never dropped and each `remove` scanned them all: a slot more for every query.
describe("the PostgreSQL client's pool queues", () => {
  /** An array that records the most slots a search of it spanned, and the most it held then. */
  class Watched<T> extends Array<T> {
    static scanned = 0;
    static held = 0;
    override indexOf(x: T, from = 0): number {
      Watched.scanned = Math.max(Watched.scanned, this.length - from);
      Watched.held = Math.max(Watched.held, this.length);
      return super.indexOf(x, from);
    }
  }
  type Queue<T> = { length: number; push(x: T): T; shift(): T; remove(x: T): T | null };
  // The package's CommonJS build (what `require` resolves to: cjs/src/index.js) and its ES one (src/).
  const cjs = dirname(dirname(createRequire(import.meta.url).resolve('postgres')));
  const variants: [string, () => Promise<(initial: unknown[]) => Queue<object>>][] = [
    ['import', async () => (await import(pathToFileURL(join(dirname(cjs), 'src/queue.js')).href)).default],
    ['require', async () => createRequire(import.meta.url)(join(cjs, 'src/queue.js'))],
  ];

  for (const [kind, load] of variants) {
    it(`stay as long as their live connections, however many queries pass through (${kind})`, async () => {
      const Queue = await load();
      const [a, b, c] = [{ id: 'a' }, { id: 'b' }, { id: 'c' }];
      const q = Queue(Watched.from([a, b]));
      Watched.scanned = Watched.held = 0;
      // As the pool pipelines a query onto its busiest connection: shift it, move it (remove, push).
      for (let i = 0; i < 20_000; i++) {
        const conn = q.shift();
        expect(q.remove(conn)).toBeNull();
        q.push(conn);
      }
      expect(q.length).toBe(2);
      expect(Watched.scanned).toBeLessThan(200);
      expect(Watched.held).toBeLessThan(200);
      // Still a queue: in order (an even number of turns leaves a first), a live one removed wherever it is.
      q.push(c);
      expect(q.remove(a)).toBe(a);
      expect([q.length, q.shift(), q.shift(), q.length]).toEqual([2, b, c, 0]);
    });
  }
});
