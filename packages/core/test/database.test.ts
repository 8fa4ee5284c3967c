import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { connectPostgres, openDatabase } from '../src/index.js';

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
