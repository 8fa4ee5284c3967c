import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Scope } from '../src/index.js';
import { ensureProject } from '../src/services/projects.js';
import { createTestDatabase, firstWords, StatementLog, startTestControlPlane, type TestControlPlane } from '../src/testing/index.js';

// The common create is one statement committed on its own; what it cannot check (a quota) or
// say (why no host has room) goes on as a transaction, with the same answers as before.

const small = { cpu_cores: 1, memory_mb: 256, disk_gb: 1 };
let cp: TestControlPlane;
const log = new StatementLog();
/** The first words of each statement `run` sent. */
const statementsOf = async (run: () => Promise<unknown>) => (await log.during(run)).map(firstWords);

beforeAll(async () => {
  const database = await createTestDatabase({ onStatement: log.onStatement });
  cp = await startTestControlPlane({ database, worker: false, reconciler: false });
});
afterAll(async () => {
  await cp?.shutdown();
  await cp?.database.close();
});

async function projectScope(name: string): Promise<Scope> {
  return { project_id: (await ensureProject(cp.database.db, name)).id, actor: 'test' };
}

describe('a create', () => {
  it('with no quota, idempotency key or host named is one statement, in no transaction', async () => {
    const scope = await projectScope('one-statement');
    const made = await statementsOf(() => cp.services.vms.create(scope, { name: 'solo', ...small }));
    expect(made).toEqual(['with placed']);
    const vm = await cp.services.vms.get(scope, (await cp.services.vms.list(scope, {})).vms[0]!.id);
    expect(vm).toMatchObject({ name: 'solo', number: 1, status: 'provisioning' });
    const [op] = await cp.database.sql`SELECT action, status FROM operations WHERE vm_id = ${vm.id}`;
    expect(op).toMatchObject({ action: 'create', status: 'pending' });
  });

  it('of a project with a quota is checked in a transaction, and concurrent ones never pass the quota', async () => {
    const scope = await projectScope('quota-race');
    await cp.services.projects.set_quotas(scope.project_id, { vms: 3 });
    const made = await statementsOf(() => cp.services.vms.create(scope, { name: 'q-0', ...small }));
    // Tried alone first (the quota row makes it write nothing), then in a transaction.
    expect(made[0]).toBe('with placed');
    expect(made).toContain('begin');
    // The process has seen the quota: the next create goes straight to the transaction.
    const next = await statementsOf(() => cp.services.vms.create(scope, { name: 'q-1', ...small }));
    expect(next[0]).toBe('begin');
    const results = await Promise.allSettled(
      Array.from({ length: 8 }, (_, i) => cp.services.vms.create(scope, { name: `q-${i + 2}`, ...small })),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    for (const r of results) if (r.status === 'rejected') expect(r.reason).toMatchObject({ code: 'QUOTA_EXCEEDED' });
    const numbers = await cp.database.sql<{ number: number }[]>`
      SELECT number FROM vms WHERE project_id = ${scope.project_id} ORDER BY number`;
    expect(numbers.map((r) => r.number)).toEqual([1, 2, 3]);
  });

  it('of a project whose quota row is gone goes back to one statement', async () => {
    const scope = await projectScope('quota-gone');
    await cp.services.projects.set_quotas(scope.project_id, { vms: 10 });
    await cp.services.vms.create(scope, { name: 'g-0', ...small });
    await cp.database.sql`DELETE FROM project_quotas WHERE project_id = ${scope.project_id}`;
    // The hint sends this one to the transaction, which finds no quota row...
    expect((await statementsOf(() => cp.services.vms.create(scope, { name: 'g-1', ...small })))[0]).toBe('begin');
    // ...and the next is one statement again.
    expect(await statementsOf(() => cp.services.vms.create(scope, { name: 'g-2', ...small }))).toEqual(['with placed']);
  });

  it('of a taken name is refused, and takes no number; the next create has the next one', async () => {
    const scope = await projectScope('taken-name');
    await cp.services.vms.create(scope, { name: 'twin', ...small });
    await expect(cp.services.vms.create(scope, { name: 'twin', ...small })).rejects.toMatchObject({ code: 'NAME_TAKEN' });
    expect((await cp.services.vms.create(scope, { name: 'other', ...small })).vm.number).toBe(2);
  });

  it('that no host has room for is refused saying why, writes nothing and takes no number', async () => {
    const scope = await projectScope('no-room');
    // No host carries that label.
    await expect(
      cp.services.vms.create(scope, { name: 'nowhere', ...small, placement: { host_labels: { rack: 'none' } } }),
    ).rejects.toMatchObject({
      code: 'INSUFFICIENT_CAPACITY',
    });
    const [{ n }] = (await cp.database.sql`SELECT count(*)::int AS n FROM vms WHERE project_id = ${scope.project_id}`) as unknown as [
      { n: number },
    ];
    expect(n).toBe(0);
    expect((await cp.services.vms.create(scope, { name: 'fits', ...small })).vm.number).toBe(1);
  });

  it('whose statement brings no row back is a retryable 503, not a server fault', async () => {
    // Triggers that swallow this project's rows make the create statement succeed with no row,
    // as an answer lost on its way back does (seen while PostgreSQL restarted under load).
    const scope = await projectScope('swallowed');
    const sql = cp.database.sql;
    await sql.unsafe(`
      CREATE FUNCTION test_swallow_row() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.project_id IN (SELECT id FROM projects WHERE name = 'swallowed') THEN RETURN NULL; END IF;
        RETURN NEW;
      END $$;
      CREATE TRIGGER test_swallow_vms BEFORE INSERT ON vms FOR EACH ROW EXECUTE FUNCTION test_swallow_row();
      CREATE TRIGGER test_swallow_operations BEFORE INSERT ON operations FOR EACH ROW EXECUTE FUNCTION test_swallow_row();
      CREATE TRIGGER test_swallow_events BEFORE INSERT ON events FOR EACH ROW EXECUTE FUNCTION test_swallow_row();`);
    try {
      for (const opts of [{}, { idempotency_key: 'lost-answer' }]) {
        const err = await cp.services.vms.create(scope, { name: 'lost', ...small }, opts).catch((e: unknown) => e);
        expect(err).toMatchObject({ code: 'DATABASE_UNAVAILABLE', details: { retryable: true } });
      }
    } finally {
      await sql.unsafe(`
        DROP TRIGGER test_swallow_vms ON vms;
        DROP TRIGGER test_swallow_operations ON operations;
        DROP TRIGGER test_swallow_events ON events;
        DROP FUNCTION test_swallow_row();`);
    }
    expect(await cp.services.vms.list(scope, {})).toMatchObject({ vms: [] });
  });
});
