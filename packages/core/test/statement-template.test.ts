import { eq, sql } from 'drizzle-orm';
import { jsonb, PgDialect, pgTable, text, timestamp } from 'drizzle-orm/pg-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bindReservation } from '../src/scheduler/reserve.js';
import type { Database } from '../src/store/database.js';
import { StatementTemplate } from '../src/store/statement-template.js';
import { createTestDatabase } from '../src/testing/index.js';

// Hot writes built once per shape (store/statement-template.ts): what they write must be what
// drizzle's own building writes, value for value, whichever values come and in which order.

const probes = pgTable('template_probe', {
  id: text('id').primaryKey(),
  note: text('note'),
  data: jsonb('data'),
  at: timestamp('at', { withTimezone: true, mode: 'date' }),
});

let database: Database;
beforeAll(async () => {
  database = await createTestDatabase();
  await database.sql`CREATE TABLE template_probe (id text PRIMARY KEY, note text, data jsonb, at timestamptz)`;
});
afterAll(() => database?.close());

/** Inserts a row the template's way, counting how often its statement was built. */
let builds = 0;
async function insert(row: typeof probes.$inferInsert, name = 'probe insert') {
  const t = new StatementTemplate(name);
  const r = t.row('p', row);
  return t.execute<{ id: string }>(database.db, () => {
    builds++;
    return database.db.insert(probes).values(r).returning({ id: probes.id }).getSQL();
  });
}

const read = async (id: string) =>
  (
    await database.sql<{ note: string | null; data: unknown; data_is_null: boolean; at: number | null }[]>`
    SELECT note, data, data IS NULL AS data_is_null, (extract(epoch FROM at) * 1000)::float8 AS at
    FROM template_probe WHERE id = ${id}`
  )[0];

describe('a statement template', () => {
  it('is built once per shape and writes each call its own values, encoded as drizzle encodes them', async () => {
    builds = 0;
    const at = new Date('2026-01-02T03:04:05.678Z');
    expect(await insert({ id: 'a', note: 'first', data: { n: 1, s: "it's" }, at })).toEqual([{ id: 'a' }]);
    expect(await insert({ id: 'b', note: "'; DROP TABLE template_probe; --", data: [1, 'two'], at: new Date(0) })).toEqual([{ id: 'b' }]);
    expect(builds).toBe(1);
    expect(await read('a')).toEqual({ note: 'first', data: { n: 1, s: "it's" }, data_is_null: false, at: at.getTime() });
    expect(await read('b')).toEqual({ note: "'; DROP TABLE template_probe; --", data: [1, 'two'], data_is_null: false, at: 0 });
  });

  it('writes a null as SQL NULL (not JSON null), and a left-out column as its default: each its own shape', async () => {
    builds = 0;
    await insert({ id: 'c', note: null, data: null, at: null });
    await insert({ id: 'd' });
    await insert({ id: 'e', note: 'x', data: { back: true }, at: new Date(1) });
    expect(builds).toBe(2);
    expect(await read('c')).toEqual({ note: null, data: null, data_is_null: true, at: null });
    expect(await read('d')).toEqual({ note: null, data: null, data_is_null: true, at: null });
    expect(await read('e')).toMatchObject({ note: 'x', data: { back: true } });
  });

  it("builds every time a statement that holds a value of its own, so no call gets another call's value", async () => {
    builds = 0;
    for (const [id, note] of [
      ['f', 'one'],
      ['g', 'two'],
    ] as const) {
      const t = new StatementTemplate('probe update with its own value');
      const r = t.row('p', { note });
      await t.execute(database.db, () => {
        builds++;
        // The id is pasted as a value, not passed through the template: the text differs per call.
        return database.db
          .insert(probes)
          .values({ id, ...r })
          .getSQL();
      });
    }
    expect(builds).toBe(2);
    expect((await read('f'))?.note).toBe('one');
    expect((await read('g'))?.note).toBe('two');
    // And an update through `value` reuses its text.
    builds = 0;
    for (const id of ['f', 'g']) {
      const t = new StatementTemplate('probe update');
      const r = t.row('p', { note: sql`upper(${probes.note})` });
      const key = t.value('id', id);
      await t.execute(database.db, () => {
        builds++;
        return database.db.update(probes).set(r).where(eq(probes.id, key)).getSQL();
      });
    }
    expect(builds).toBe(1);
    expect((await read('f'))?.note).toBe('ONE');
    expect((await read('g'))?.note).toBe('TWO');
    // SQL written as a value is part of the shape: another text is another statement.
    for (const [id, note] of [
      ['f', sql`lower(${probes.note})`],
      ['g', sql`${probes.note} || '!'`],
    ] as const) {
      const t = new StatementTemplate('probe update');
      const r = t.row('p', { note });
      const key = t.value('id', id);
      await t.execute(database.db, () => database.db.update(probes).set(r).where(eq(probes.id, key)).getSQL());
    }
    expect((await read('f'))?.note).toBe('one');
    expect((await read('g'))?.note).toBe('TWO!');
  });
});

describe("a host reservation's shape", () => {
  it('names every way its text varies: requests of one shape make one text', async () => {
    const dialect = new PgDialect();
    const texts = new Map<string, Set<string>>();
    for (const host_id of [null, '6c7e3b27-7159-4e0a-9e30-3d44284574cd'])
      for (const host_labels of [undefined, {}, { rack: 'r1' }, { rack: 'r1', disk: 'ssd' }] as (Record<string, string> | undefined)[])
        for (const strategy of [undefined, 'spread', 'pack'] as const)
          for (const new_vm of [undefined, false, true])
            for (const cpus of [1, 64]) {
              const parts: string[] = [];
              const bind = { value: (name: string) => sql.placeholder(name), part: (d: string) => parts.push(d) };
              const text = dialect.sqlToQuery(
                bindReservation(database.db, { cpus, memory_mb: 512, disk_gb: 1 }, { host_id, host_labels, strategy, new_vm }, bind)(),
              ).sql;
              const key = parts.join('|');
              texts.set(key, (texts.get(key) ?? new Set()).add(text));
            }
    expect(texts.size).toBe(2 * 2 * 2 * 2);
    for (const [key, set] of texts) expect(set.size, key).toBe(1);
  });
});
