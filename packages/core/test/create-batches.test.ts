import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Scope } from '../src/index.js';
import { ensureProject } from '../src/services/projects.js';
import { startTestControlPlane, type TestControlPlane } from '../src/testing/index.js';

// Creates that come together are written in one transaction (a group commit), and a batch one
// of whose creates fails is written again one create at a time: the others are made, the
// failing one hears its own error.

const small = { cpu_cores: 1, memory_mb: 256, disk_gb: 1 };

let cp: TestControlPlane;
beforeAll(async () => {
  // No worker: the rows stay as the creates wrote them (their `xmin` is their transaction's).
  cp = await startTestControlPlane({ worker: false });
});
afterAll(() => cp?.shutdown());

async function projectScope(name: string): Promise<Scope> {
  return { project_id: (await ensureProject(cp.database.db, name)).id, actor: 'test' };
}

/** The transactions that wrote these VMs (rows a transaction inserted share its `xmin`). */
async function transactionsOf(ids: string[]): Promise<number> {
  const [row] = await cp.database.sql`SELECT count(DISTINCT xmin::text)::int AS n FROM vms WHERE id = ANY(${ids}::uuid[])`;
  return row!.n as number;
}

describe('creates that come together', () => {
  it('are committed in fewer transactions than creates, each answered with its own VM, numbered 1 to N', async () => {
    const scope = await projectScope('batches-many');
    const made = await Promise.all(
      Array.from({ length: 40 }, (_, i) => cp.services.vms.create(scope, { name: `b-${i}`, ...small }).then((r) => r)),
    );
    expect(made.map((r) => r.vm.name)).toEqual(Array.from({ length: 40 }, (_, i) => `b-${i}`));
    expect(made.every((r) => r.operation?.vm_id === r.vm.id)).toBe(true);
    expect(made.map((r) => r.vm.number).sort((x, y) => x - y)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    const transactions = await transactionsOf(made.map((r) => r.vm.id));
    expect(transactions).toBeLessThan(20);
    // Every VM and its operation are there, as answered.
    const [ops] = await cp.database.sql`SELECT count(*)::int AS n FROM operations WHERE vm_id = ANY(${made.map((r) => r.vm.id)}::uuid[])`;
    expect(ops!.n).toBe(40);
  });

  it('keep apart the projects of one batch, and another project’s failure fails none of them', async () => {
    const a = await projectScope('batches-a');
    const b = await projectScope('batches-b');
    await cp.services.vms.create(b, { name: 'taken', ...small });
    const calls = Array.from({ length: 30 }, (_, i) => {
      const scope = i % 2 === 0 ? a : b;
      const name = i === 15 ? 'taken' : `p-${i}`;
      return cp.services.vms.create(scope, { name, ...small }).then(
        (r) => ({ ok: r.vm }),
        (err: { code?: string }) => ({ err: err.code }),
      );
    });
    const heard = await Promise.all(calls);
    expect(heard[15]).toEqual({ err: 'NAME_TAKEN' });
    const madeA = heard.filter((h, i) => i % 2 === 0 && 'ok' in h).map((h) => ('ok' in h ? h.ok : null)!);
    const madeB = heard.filter((h, i) => i % 2 === 1 && 'ok' in h).map((h) => ('ok' in h ? h.ok : null)!);
    expect(madeA).toHaveLength(15);
    expect(madeB).toHaveLength(14);
    expect(madeA.every((v) => v.project_id === a.project_id)).toBe(true);
    expect(madeB.every((v) => v.project_id === b.project_id)).toBe(true);
    // Numbers per project, none lost to the batch that was rolled back.
    expect(madeA.map((v) => v.number).sort((x, y) => x - y)).toEqual(Array.from({ length: 15 }, (_, i) => i + 1));
    expect(madeB.map((v) => v.number).sort((x, y) => x - y)).toEqual(Array.from({ length: 14 }, (_, i) => i + 2));
  });

  it('stop at the quota: as many are made as it allows, the rest hear QUOTA_EXCEEDED', async () => {
    const scope = await projectScope('batches-quota');
    await cp.services.projects.set_quotas(scope.project_id, { vms: 7 });
    const heard = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        cp.services.vms.create(scope, { name: `q-${i}`, ...small }).then(
          () => 'made',
          (err: { code?: string }) => err.code,
        ),
      ),
    );
    expect(heard.filter((h) => h === 'made')).toHaveLength(7);
    expect(heard.filter((h) => h === 'QUOTA_EXCEEDED')).toHaveLength(13);
    const [row] = await cp.database.sql`SELECT count(*)::int AS n FROM vms WHERE project_id = ${scope.project_id}`;
    expect(row!.n).toBe(7);
  });

  it('with idempotency keys are batched too, and a repeat of each answers the VM it made', async () => {
    const scope = await projectScope('batches-keys');
    const create = (i: number) => cp.services.vms.create(scope, { name: `k-${i}`, ...small }, { idempotency_key: `key-${i}` });
    // Key 0 twice in the burst: one VM, both answered with it.
    const first = await Promise.all([...Array.from({ length: 30 }, (_, i) => create(i)), create(0)]);
    expect(first[30]!.vm.id).toBe(first[0]!.vm.id);
    expect(await transactionsOf(first.map((r) => r.vm.id))).toBeLessThan(15);
    const again = await Promise.all(Array.from({ length: 30 }, (_, i) => create(i)));
    expect(again.map((r) => r.vm.id)).toEqual(first.slice(0, 30).map((r) => r.vm.id));
    const [row] = await cp.database.sql`SELECT count(*)::int AS n FROM vms WHERE project_id = ${scope.project_id}`;
    expect(row!.n).toBe(30);
    // A key reused for another request is refused, and fails none of the others of its batch.
    const heard = await Promise.all([
      cp.services.vms.create(scope, { name: 'other', ...small }, { idempotency_key: 'key-1' }).then(
        () => 'made',
        (err: { code?: string }) => err.code,
      ),
      ...Array.from({ length: 5 }, (_, i) => create(100 + i).then(() => 'made')),
    ]);
    expect(heard).toEqual(['IDEMPOTENCY_MISMATCH', 'made', 'made', 'made', 'made', 'made']);
  });

  it('of one project wait for no other project’s: a project whose rows are held holds up no one else', async () => {
    const held = await projectScope('batches-held');
    const free = await projectScope('batches-free');
    await cp.services.projects.set_quotas(held.project_id, { vms: 100 });
    const tx = await cp.database.sql.reserve();
    try {
      await tx`BEGIN`;
      await tx`SELECT 1 FROM project_quotas WHERE project_id = ${held.project_id} FOR UPDATE`;
      const waiting = cp.services.vms.create(held, { name: 'waits', ...small });
      await new Promise((r) => setTimeout(r, 100));
      const others = Promise.all(Array.from({ length: 10 }, (_, i) => cp.services.vms.create(free, { name: `f-${i}`, ...small })));
      const outcome = await Promise.race([others.then(() => 'made'), new Promise((r) => setTimeout(() => r('held up'), 5_000))]);
      expect(outcome).toBe('made');
      await tx`COMMIT`;
      expect((await waiting).vm.name).toBe('waits');
    } finally {
      tx.release();
    }
  });

  it('naming their host go one by one (batches naming hosts in two orders would wait on each other)', async () => {
    const scope = await projectScope('batches-host');
    const [host] = await cp.database.sql`SELECT id FROM hosts ORDER BY created_at LIMIT 1`;
    const made = await Promise.all(
      Array.from({ length: 8 }, (_, i) => cp.services.vms.create(scope, { name: `h-${i}`, host_id: host!.id as string, ...small })),
    );
    expect(made.every((r) => r.vm.host_id === host!.id)).toBe(true);
    expect(await transactionsOf(made.map((r) => r.vm.id))).toBe(8);
  });
});
