import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';
import { connectPostgres } from '../store/connect.js';
import { type Database, openDatabase } from '../store/database.js';
import './provided.js';

/** A fresh, migrated database of its own for one test file, dropped on close. */
export async function createTestDatabase(opts: { max?: number; onStatement?: (query: string) => void } = {}): Promise<Database> {
  const adminUrl = inject('pgAdminUrl');
  const name = `hangar_test_${randomBytes(6).toString('hex')}`;
  const admin = connectPostgres(adminUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`CREATE DATABASE ${name}`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const database = await openDatabase({ url: url.toString(), max: opts.max ?? 20, onStatement: opts.onStatement });
  return {
    ...database,
    async close() {
      await database.close();
      await admin.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.end();
    },
  };
}
