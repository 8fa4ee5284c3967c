import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import { describe, expect, inject, it } from 'vitest';
import { connectPostgres, openDatabase, sqlState, TRANSACTION_ATTEMPTS } from '../src/index.js';
import { createTestDatabase } from '../src/testing/index.js';

describe('openDatabase', () => {
  it.runIf(inject('pgMode') === 'embedded')(
    'starts an embedded PostgreSQL in the data directory, migrates it, and keeps data across restarts',
    async () => {
      const dir = await mkdtemp(join(tmpdir(), 'hangar-data-'));
      const savedUrl = process.env.DATABASE_URL;
      delete process.env.DATABASE_URL;
      try {
        const first = await openDatabase({ dataDir: dir });
        expect(first.embedded).toBe(true);
        // Reachable through its unix socket only: nothing listens on the host's loopback.
        expect((await first.sql`SHOW listen_addresses`)[0]!.listen_addresses).toBe('');
        expect(new URL(first.url).searchParams.get('host')).toBe(join(dir, 'postgres'));
        await first.sql`INSERT INTO projects (name) VALUES ('kept')`;
        await first.close();
        expect((await stat(join(dir, 'postgres', 'PG_VERSION'))).isFile()).toBe(true);
        expect((await stat(join(dir, 'postgres-credentials.json'))).mode & 0o777).toBe(0o600);

        const second = await openDatabase({ dataDir: dir });
        const rows = await second.sql`SELECT name FROM projects`;
        expect(rows.map((r) => r.name)).toEqual(['kept']);
        await second.close();
      } finally {
        if (savedUrl !== undefined) process.env.DATABASE_URL = savedUrl;
        await rm(dir, { recursive: true, force: true });
      }
    },
  );

  it('uses DATABASE_URL when it is set, and migrating twice is harmless', async () => {
    const url = new URL(inject('pgAdminUrl'));
    const saved = process.env.DATABASE_URL;
    process.env.DATABASE_URL = url.toString();
    const { randomBytes } = await import('node:crypto');
    const name = `hangar_test_${randomBytes(4).toString('hex')}`;
    const admin = connectPostgres(url.toString(), { max: 1, onnotice: () => {} });
    await admin.unsafe(`CREATE DATABASE ${name}`);
    url.pathname = `/${name}`;
    process.env.DATABASE_URL = url.toString();
    try {
      const [a, b] = await Promise.all([openDatabase(), openDatabase()]);
      expect(a.embedded).toBe(false);
      const tables = await a.sql`SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename`;
      expect(tables.map((t) => t.tablename)).toEqual([
        'api_keys',
        'events',
        'gpu_devices',
        'hosts',
        'idempotency_keys',
        'images',
        'join_tokens',
        'operations',
        'project_quotas',
        'projects',
        'settings',
        'users',
        'vms',
      ]);
      await Promise.all([a.close(), b.close()]);
    } finally {
      if (saved === undefined) delete process.env.DATABASE_URL;
      else process.env.DATABASE_URL = saved;
      await admin.unsafe(`DROP DATABASE ${name} WITH (FORCE)`);
      await admin.end();
    }
  });

  it('explains what went wrong when PostgreSQL cannot be reached', async () => {
    await expect(openDatabase({ url: 'postgres://nobody:x@127.0.0.1:1/none' })).rejects.toThrow(/ECONNREFUSED|connect/);
  });
});

describe('transactions', () => {
  it('are run again when PostgreSQL ends one for a deadlock, and both commit', async () => {
    const database = await createTestDatabase();
    try {
      const [a, b] = await database.sql<{ id: string }[]>`INSERT INTO projects (name) VALUES ('lock-a'), ('lock-b') RETURNING id`;
      let runs = 0;
      let locked = 0;
      let bothLocked!: () => void;
      const barrier = new Promise<void>((r) => (bothLocked = r));
      // Each takes one row, waits until the other has taken the other row, then takes it: a deadlock.
      const crossing = (first: string, second: string) =>
        database.db.transaction(async (tx) => {
          runs++;
          await tx.execute(sql`UPDATE projects SET updated_at = now() WHERE id = ${first}`);
          if (++locked === 2) bothLocked();
          if (locked <= 2) await barrier;
          await tx.execute(sql`UPDATE projects SET updated_at = now() WHERE id = ${second}`);
        });
      await Promise.all([crossing(a!.id, b!.id), crossing(b!.id, a!.id)]);
      // PostgreSQL broke the deadlock by ending one; it ran a second time and committed.
      expect(runs).toBe(3);
    } finally {
      await database.close();
    }
  });

  it('give up after a few runs, leaving the conflict to the caller', async () => {
    const database = await createTestDatabase();
    try {
      let runs = 0;
      const err = await database.db
        .transaction(async (tx) => {
          runs++;
          await tx.execute(sql`DO $$ BEGIN RAISE EXCEPTION 'always' USING ERRCODE = '40001'; END $$`);
        })
        .catch((e: unknown) => e);
      expect(sqlState(err)).toBe('40001');
      expect(runs).toBe(TRANSACTION_ATTEMPTS);
    } finally {
      await database.close();
    }
  });
});
