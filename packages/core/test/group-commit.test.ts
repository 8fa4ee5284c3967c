import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HypervisorDriver } from '../src/drivers/driver.js';
import { GroupCommit } from '../src/store/group-commit.js';
import { startTestControlPlane, type TestControlPlane } from '../src/testing/index.js';
import { type Ending, type Finish, finishOperations } from '../src/worker/finish.js';
import { silentLogger } from '../src/worker/logger.js';
import { Worker } from '../src/worker/worker.js';

const stopped: Ending = { result: 'succeeded', outcome: { status: 'stopped' } };

describe('a batcher of endings', () => {
  it('writes an ending at once when none is being written, and those that come meanwhile together, next', async () => {
    const batches: string[][] = [];
    const open: (() => void)[] = [];
    const batcher = new GroupCommit<Finish, boolean>({
      many: async (fs) => {
        batches.push(fs.map((f) => f.which.id));
        await new Promise<void>((r) => open.push(r));
        return fs.map(() => true);
      },
      one: async (f) => {
        batches.push([f.which.id]);
        await new Promise<void>((r) => open.push(r));
        return true;
      },
      rolledBack: () => true,
    });
    const finish = (id: string) => batcher.write({ which: { id, vm_id: id }, owner: 'w', ending: stopped });
    const all = ['a', 'b', 'c', 'd'].map(finish);
    await expect.poll(() => batches).toEqual([['a']]);
    open.shift()!();
    await expect.poll(() => batches).toEqual([['a'], ['b', 'c', 'd']]);
    open.shift()!();
    expect(await Promise.all(all)).toEqual([true, true, true, true]);
  });

  it('begins a transaction beside an open one only for a large enough batch, up to its limit', async () => {
    const batches: string[][] = [];
    const open: (() => void)[] = [];
    const write = async (ids: string[]) => {
      batches.push(ids);
      await new Promise<void>((r) => open.push(r));
    };
    const batcher = new GroupCommit<string, boolean>({
      many: async (ids) => {
        await write(ids);
        return ids.map(() => true);
      },
      one: async (id) => {
        await write([id]);
        return true;
      },
      rolledBack: () => true,
      max_batch: 3,
      max_in_flight: 2,
      min_parallel_batch: 2,
    });
    const all = ['a', 'b'].map((id) => batcher.write(id));
    // a alone; b waits: one ending is not worth a transaction beside a's.
    await expect.poll(() => batches).toEqual([['a']]);
    all.push(...['c', 'd', 'e', 'f'].map((id) => batcher.write(id)));
    // b and c gathered: a batch of two begins beside a's; d, e and f wait (two are open).
    await expect.poll(() => batches).toEqual([['a'], ['b', 'c']]);
    await new Promise((r) => setTimeout(r, 10));
    expect(batches).toHaveLength(2);
    open.shift()!();
    await expect.poll(() => batches).toEqual([['a'], ['b', 'c'], ['d', 'e', 'f']]);
    for (const release of [open.shift()!, open.shift()!]) release();
    expect(await Promise.all(all)).toEqual([true, true, true, true, true, true]);
  });

  /**
   * A batcher whose batches fail with `failure`. Its first ending, `first`, goes alone and is
   * held, so that `ids` gather behind it into one batch. What each of them heard, and which
   * endings were written one by one.
   */
  async function behindAHeldFirst(failure: string, one: (id: string) => Promise<boolean>, ids: string[]) {
    let letGo!: () => void;
    const held = new Promise<void>((r) => (letGo = r));
    const alone: string[] = [];
    const batcher = new GroupCommit<Finish, boolean>({
      many: async () => {
        throw new Error(failure);
      },
      one: async (f) => {
        alone.push(f.which.id);
        if (f.which.id === 'first') await held;
        return one(f.which.id);
      },
      rolledBack: (err) => (err as Error).message.startsWith('refused'),
    });
    const finish = (id: string) => batcher.write({ which: { id, vm_id: id }, owner: 'w', ending: stopped });
    const first = finish('first');
    const rest = ids.map((id) =>
      finish(id).then(
        (v) => ({ v }),
        (e: Error) => ({ e: e.message }),
      ),
    );
    letGo();
    expect(await first).toBe(true);
    return { heard: await Promise.all(rest), alone };
  }

  it('runs a batch PostgreSQL refused again one ending at a time: one bad ending fails no other', async () => {
    const { heard, alone } = await behindAHeldFirst(
      'refused: one of them is bad',
      async (id) => {
        if (id === 'bad') throw new Error('bad ending');
        return id !== 'not-mine';
      },
      ['ok', 'bad', 'not-mine'],
    );
    expect(heard).toEqual([{ v: true }, { e: 'bad ending' }, { v: false }]);
    expect(alone).toEqual(['first', 'ok', 'bad', 'not-mine']);
  });

  it('does not run again a batch that may have been committed (the connection lost at its COMMIT): each caller hears the error', async () => {
    const { heard, alone } = await behindAHeldFirst('connection lost', async () => true, ['a', 'b']);
    expect(heard).toEqual([{ e: 'connection lost' }, { e: 'connection lost' }]);
    expect(alone).toEqual(['first']);
  });
});

describe('group commit of endings', () => {
  let cp: TestControlPlane;
  beforeAll(async () => {
    cp = await startTestControlPlane({ worker: false, reconciler: false });
  });
  afterAll(() => cp?.shutdown());

  /** VMs whose creates are claimed (running) by `owner`. */
  async function claimed(names: string[], owner: string): Promise<{ id: string; vm_id: string }[]> {
    const ops = [];
    for (const name of names) ops.push((await cp.services.vms.create(cp.scope, { name, cpu_cores: 1, memory_mb: 128 })).operation!);
    await cp.database.sql`UPDATE operations SET status = 'running', lease_owner = ${owner}, lease_expires_at = now() + interval '1 minute'
      WHERE id = ANY(${ops.map((o) => o.id)}::uuid[])`;
    return ops.map((o) => ({ id: o.id, vm_id: o.vm_id! }));
  }

  it('ends several operations in one transaction, each answered in the order asked', async () => {
    const ops = await claimed(['g-1', 'g-2', 'g-3', 'g-4'], 'w-1');
    // Asked in the reverse of the order their VMs are locked in (by id), the one not this owner's first.
    const finishes: Finish[] = [...ops]
      .sort((a, b) => (a.vm_id < b.vm_id ? 1 : -1))
      .map((which) => ({ which, owner: 'w-1', ending: stopped }));
    finishes[0] = { ...finishes[0]!, owner: 'someone-else' };
    const ended = await finishOperations(cp.database.db, finishes);
    expect(ended).toEqual([false, true, true, true]);
    const rows = await cp.database.sql<{ id: string; status: string; xmin: string }[]>`
      SELECT id, status, xmin::text AS xmin FROM operations WHERE id = ANY(${ops.map((o) => o.id)}::uuid[])`;
    const byId = new Map(rows.map((r) => [r.id, r]));
    expect(finishes.map((f) => byId.get(f.which.id)!.status)).toEqual(['running', 'succeeded', 'succeeded', 'succeeded']);
    // One transaction wrote the three endings.
    expect(new Set(finishes.filter((_, i) => ended[i]).map((f) => byId.get(f.which.id)!.xmin)).size).toBe(1);
    const vms = await cp.database.sql<{ status: string }[]>`SELECT status FROM vms WHERE id = ${finishes[1]!.which.vm_id}`;
    expect(vms[0]!.status).toBe('stopped');
  });

  it('writes none of a batch whose one ending fails', async () => {
    const ops = await claimed(['n-1', 'n-2'], 'w-2');
    const finishes: Finish[] = [
      ...ops.map((which) => ({ which, owner: 'w-2', ending: stopped })),
      { which: { id: 'not-a-uuid', vm_id: 'not-a-uuid' }, owner: 'w-2', ending: stopped },
    ];
    await expect(finishOperations(cp.database.db, finishes)).rejects.toThrow();
    const rows = await cp.database.sql<{ status: string }[]>`SELECT status FROM operations WHERE id = ANY(${ops.map((o) => o.id)}::uuid[])`;
    expect(rows.map((r) => r.status)).toEqual(['running', 'running']);
  });

  it('sends nothing of a failed batch after it is rolled back: the other endings stay unwritten', async () => {
    const ops = (await claimed(['r-1', 'r-2', 'r-3'], 'w-3')).sort((a, b) => (a.vm_id < b.vm_id ? -1 : 1));
    // The first in lock order cannot be written (its data is not JSON): it fails in this process
    // as soon as its VM is locked. The last one's VM is held by another transaction meanwhile, so
    // its ending is sent only after the batch has given up.
    const bad: Ending = { result: 'succeeded', outcome: { status: 'stopped', data: { n: 10n } as Record<string, unknown> } };
    const finishes: Finish[] = ops.map((which, i) => ({ which, owner: 'w-3', ending: i === 0 ? bad : stopped }));
    let letGo!: () => void;
    const held = new Promise<void>((r) => (letGo = r));
    let locked!: () => void;
    const isLocked = new Promise<void>((r) => (locked = r));
    const holder = cp.database.sql.begin(async (tx) => {
      await tx`SELECT 1 FROM vms WHERE id = ${ops[2]!.vm_id} FOR UPDATE`;
      locked();
      await held;
    });
    await isLocked;
    const batch = finishOperations(cp.database.db, finishes).then(
      () => 'ended',
      (e: Error) => e.message,
    );
    await new Promise((r) => setTimeout(r, 300));
    letGo();
    await holder;
    expect(await batch).toMatch(/BigInt/);
    await new Promise((r) => setTimeout(r, 200));
    const rows = await cp.database.sql<{ id: string; status: string }[]>`
      SELECT id, status FROM operations WHERE id = ANY(${ops.map((o) => o.id)}::uuid[])`;
    expect(rows.map((r) => r.status)).toEqual(['running', 'running', 'running']);
    const events = await cp.database
      .sql`SELECT 1 FROM events WHERE operation_id = ANY(${ops.map((o) => o.id)}::uuid[]) AND type = 'operation.succeeded'`;
    expect(events).toHaveLength(0);
  });

  it('a busy worker ends the operations that finish together in a transaction or two, not one each', async () => {
    const n = 16;
    const ops = [];
    for (let i = 0; i < n; i++)
      ops.push((await cp.services.vms.create(cp.scope, { name: `busy-${i}`, cpu_cores: 1, memory_mb: 128 })).operation!);
    // The defines wait for each other, so the operations finish at the same moment.
    let waiting = 0;
    let release!: () => void;
    const together = new Promise<void>((r) => (release = r));
    const driver = new Proxy(cp.driver as HypervisorDriver, {
      get(target, key, receiver) {
        const v = Reflect.get(target, key, receiver);
        if (key !== 'define' || typeof v !== 'function') return typeof v === 'function' ? v.bind(target) : v;
        return async (...args: unknown[]) => {
          if (++waiting === n) release();
          await together;
          return v.apply(target, args);
        };
      },
    });
    const worker = new Worker({
      db: cp.database.db,
      drivers: new Map([[cp.hosts[0]!.id, driver]]),
      concurrency: n,
      logger: silentLogger,
      poll_ms: 50,
    });
    worker.start();
    try {
      const ids = ops.map((o) => o.id);
      await expect
        .poll(
          async () =>
            (await cp.database.sql`SELECT count(*)::int AS n FROM operations WHERE id = ANY(${ids}::uuid[]) AND status = 'succeeded'`)[0]!
              .n,
          {
            timeout: 15_000,
          },
        )
        .toBe(n);
      const [{ transactions }] = (await cp.database.sql`
        SELECT count(DISTINCT xmin::text)::int AS transactions FROM operations WHERE id = ANY(${ids}::uuid[])`) as unknown as [
        { transactions: number },
      ];
      // Each in a transaction of its own would be 16: the first goes alone, the others gather behind it.
      expect(transactions).toBeLessThanOrEqual(4);
    } finally {
      await worker.stop();
    }
  });
});
