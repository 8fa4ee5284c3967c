import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { claimOperations } from '../src/store/operation-rows.js';
import { startTestControlPlane, type TestControlPlane } from '../src/testing/index.js';
import { ClaimLoop } from '../src/worker/claim-loop.js';

let cp: TestControlPlane;
beforeAll(async () => {
  cp = await startTestControlPlane({ worker: false, reconciler: false });
});
afterAll(() => cp?.shutdown());

describe('claims', () => {
  it('take up to the room asked for in one statement, oldest first, each with its VM, and none twice', async () => {
    const made: string[] = [];
    for (const name of ['c-1', 'c-2', 'c-3', 'c-4', 'c-5'])
      made.push((await cp.services.vms.create(cp.scope, { name, cpu_cores: 1, memory_mb: 128 })).operation!.id);
    const hostIds = cp.hosts.map((h) => h.id);
    const first = await claimOperations(cp.database.db, 'w-1', hostIds, 30_000, 3);
    expect(first.map((c) => c.op.id)).toEqual(made.slice(0, 3));
    expect(first.map((c) => [c.op.status, c.op.lease_owner, c.op.attempts, c.vm?.name, c.vm?.current_operation_id])).toEqual(
      first.map((c, i) => ['running', 'w-1', 1, `c-${i + 1}`, c.op.id]),
    );
    expect(first.every((c) => !c.taken_over)).toBe(true);
    const rest = await claimOperations(cp.database.db, 'w-2', hostIds, 30_000, 16);
    expect(rest.map((c) => c.op.id)).toEqual(made.slice(3));
    expect(await claimOperations(cp.database.db, 'w-3', hostIds, 30_000, 16)).toEqual([]);
    // Each claim was announced by its started event.
    const started = await cp.database
      .sql`SELECT count(*)::int AS n FROM events WHERE type = 'operation.started' AND operation_id = ANY(${made}::uuid[])`;
    expect(started[0]!.n).toBe(5);
  });

  it('a claim loop fills its room with one claim, not one claim a job', async () => {
    const asked: number[] = [];
    let queued = 10;
    const finish: (() => void)[] = [];
    const loop = new ClaimLoop<{ id: string }>({
      claim: async (_signal, max) => {
        asked.push(max);
        const n = Math.min(max, queued);
        queued -= n;
        return Array.from({ length: n }, () => ({ id: `job-${queued + Math.random()}` }));
      },
      run: () => new Promise<void>((r) => finish.push(r)),
      concurrency: 4,
      poll_ms: 10_000,
      onClaimError: () => {},
    });
    loop.start();
    await expect.poll(() => loop.active.size).toBe(4);
    expect(asked).toEqual([4]);
    for (const f of finish.splice(0, 3)) f();
    await expect.poll(() => loop.active.size).toBe(4);
    expect(asked.slice(1).reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(3);
    expect(asked.length).toBeLessThanOrEqual(4);
    for (const f of finish.splice(0)) f();
    await loop.stop();
  });

  it('a job that frees its slot (its host part done, its ending being written) lets the next be claimed, up to as many again', async () => {
    let queued = 5;
    const ends: (() => void)[] = [];
    const loop = new ClaimLoop<{ id: string }>({
      claim: async (_signal, max) => {
        const n = Math.min(max, queued);
        queued -= n;
        return Array.from({ length: n }, (_, i) => ({ id: `job-${queued + i}` }));
      },
      run: async (_job, _ctl, free) => {
        free();
        free(); // a second call frees nothing more
        await new Promise<void>((r) => ends.push(r));
      },
      concurrency: 2,
      poll_ms: 10_000,
      onClaimError: () => {},
    });
    loop.start();
    // Two slots: two jobs ending without one, two more holding theirs (no more wait on endings
    // without a slot than there are slots); the fifth waits.
    await expect.poll(() => loop.active.size).toBe(4);
    await new Promise((r) => setTimeout(r, 20));
    expect(loop.active.size).toBe(4);
    expect(queued).toBe(1);
    expect(loop.busySlots).toBe(2);
    // One ends: the fifth is claimed.
    ends.shift()!();
    await expect.poll(() => queued).toBe(0);
    await expect.poll(() => loop.active.size).toBe(4);
    // Stopped, the loop still lists them as active (what the worker's stop waits for) until they end.
    await loop.stop();
    expect(loop.active.size).toBe(4);
    const all = Promise.all([...loop.active.values()].map((a) => a.done));
    for (const end of ends) end();
    await all;
    expect(loop.active.size).toBe(0);
  });
});
