import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../src/store/database.js';
import { EVENTS_WRITTEN_CHANNEL } from '../src/store/event-sequencer.js';
import { CHANGES_CHANNEL, notifyChange } from '../src/store/notifier.js';
import { MAX_PREPARED_TEXTS } from '../src/store/prepared-statements.js';
import { startTestControlPlane, type TestControlPlane } from '../src/testing/index.js';

let cp: TestControlPlane;
let database: Database;
beforeAll(async () => {
  cp = await startTestControlPlane({ worker: false, reconciler: false });
  database = cp.database;
});
afterAll(() => cp?.shutdown());

/** What arrives on a channel, heard on a connection of its own. */
async function listen(channel: string) {
  const heard: string[] = [];
  const sub = await database.sql.listen(channel, (payload) => heard.push(payload));
  return { heard, stop: () => sub.unlisten() };
}

const tick = (ms = 300) => new Promise((r) => setTimeout(r, ms));

describe('notices', () => {
  it('are sent once their transaction has committed, and never for one rolled back', async () => {
    const l = await listen(CHANGES_CHANNEL);
    try {
      const notice = (id: string) => ({ vm_id: id, operation_id: null, status: 'running' });
      await database.db.transaction(async (tx) => {
        await notifyChange(tx, notice('c0a80000-0000-4000-8000-000000000001'));
        await tick();
        expect(l.heard).toEqual([]);
      });
      await expect
        .poll(() => l.heard.map((p) => JSON.parse(p).vm_id), { timeout: 5_000 })
        .toEqual(['c0a80000-0000-4000-8000-000000000001']);

      await expect(
        database.db.transaction(async (tx) => {
          await notifyChange(tx, notice('c0a80000-0000-4000-8000-000000000002'));
          throw new Error('rolled back');
        }),
      ).rejects.toThrow('rolled back');
      await tick(500);
      expect(l.heard).toHaveLength(1);
    } finally {
      await l.stop();
    }
  });

  it('wake the event feed for VM events the application wrote; host events wake it by their trigger', async () => {
    const vm = await cp.services.vms.create(cp.scope, { name: 'noticed', cpu_cores: 1, memory_mb: 256 });
    await tick(500); // the create's own notice, sent after its commit, is past
    const l = await listen(EVENTS_WRITTEN_CHANNEL);
    try {
      // A VM event inserted without the application announcing it: the trigger stays silent.
      await database.sql`
        INSERT INTO events (vm_id, project_id, type, message) VALUES (${vm.vm.id}, ${cp.scope.project_id}, 'vm.updated', 'by hand')`;
      await tick(500);
      expect(l.heard).toEqual([]);
      // A host event, written by the hosts' trigger, wakes it.
      await database.sql`UPDATE hosts SET cordoned = NOT cordoned`;
      await expect.poll(() => l.heard.length, { timeout: 5_000 }).toBeGreaterThan(0);
      await database.sql`UPDATE hosts SET cordoned = NOT cordoned`;
      // The application's own VM events wake it once committed.
      const before = l.heard.length;
      await cp.services.vms.update(cp.scope, vm.vm.id, { labels: { woke: 'yes' } });
      await expect.poll(() => l.heard.length, { timeout: 5_000 }).toBeGreaterThan(before);
    } finally {
      await l.stop();
    }
  });

  it('queries drizzle sends are prepared statements of their connection, up to a bound of distinct texts', async () => {
    const count = (tx: { execute: typeof database.db.execute }, like: string) =>
      tx.execute<{ n: number }>(sql`SELECT count(*)::int AS n FROM pg_prepared_statements WHERE statement LIKE ${like}`);
    const { first, last } = await database.db.transaction(async (tx) => {
      await tx.execute(sql`SELECT ${'probe'}::text AS prepared_probe`);
      const first = (await count(tx, '%AS prepared_probe%'))[0]!.n;
      // Enough texts of their own to fill the bound: the next new one runs unprepared.
      for (let i = 0; i < MAX_PREPARED_TEXTS; i++) await tx.execute(sql.raw(`SELECT ${i} AS filler_${i}`));
      await tx.execute(sql`SELECT ${'probe'}::text AS unprepared_probe`);
      const last = (await count(tx, '%AS unprepared_probe%'))[0]!.n;
      return { first, last };
    });
    expect(first).toBe(1);
    expect(last).toBe(0);
  });
});
