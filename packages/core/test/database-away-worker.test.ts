import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestControlPlane, type TestControlPlane } from '../src/testing/index.js';
import { DatabaseQueue } from '../src/worker/database-queue.js';
import { silentLogger } from '../src/worker/logger.js';
import type { OperationQueue } from '../src/worker/operation-queue.js';
import { Worker } from '../src/worker/worker.js';

// A worker's write that cannot be made because PostgreSQL is away (a restart): an ending, or the
// checkpoint of a domain just defined, is written once it is back, by the worker that holds the
// operation, not a lease later by whoever takes it over.

let cp: TestControlPlane;
beforeAll(async () => {
  cp = await startTestControlPlane({ worker: false, reconciler: false });
});
afterAll(() => cp?.shutdown());

const dropped = () => Object.assign(new Error('write CONNECTION_CLOSED'), { code: 'CONNECTION_CLOSED' });

/**
 * The database's own queue, whose first `fails` endings fail as a dropped connection does (after
 * writing, when `landed`), and first `checkpointFails` checkpoints too.
 */
function flakyEndings(fails: number, landed: boolean, checkpointFails = 0) {
  const calls: string[] = [];
  let checkpoints = 0;
  const queue = (owner: string): OperationQueue => {
    const real = new DatabaseQueue({ db: cp.database.db, owner, host_ids: () => [cp.hosts[0]!.id], lease_ms: 60_000 });
    return Object.assign(Object.create(real) as OperationQueue, {
      async finish(...args: Parameters<OperationQueue['finish']>) {
        calls.push(args[0].id);
        if (calls.length <= fails) {
          if (landed) await real.finish(...args);
          throw dropped();
        }
        return real.finish(...args);
      },
      async checkpoint(...args: Parameters<OperationQueue['checkpoint']>) {
        if (++checkpoints <= checkpointFails) throw dropped();
        return real.checkpoint(...args);
      },
    });
  };
  return { queue, calls };
}

async function run(queue: (owner: string) => OperationQueue, opId: string) {
  const worker = new Worker({
    queue,
    drivers: new Map([[cp.hosts[0]!.id, cp.driver]]),
    lease_ms: 60_000,
    logger: silentLogger,
    poll_ms: 50,
  });
  worker.start();
  try {
    await expect
      .poll(async () => (await cp.database.sql`SELECT status FROM operations WHERE id = ${opId}`)[0]!.status, { timeout: 10_000 })
      .toBe('succeeded');
  } finally {
    await worker.stop();
  }
}

describe("a worker's ending", () => {
  it('is written once the database answers again, long before the lease runs out', async () => {
    const made = await cp.services.vms.create(cp.scope, { name: 'ends-late', cpu_cores: 1, memory_mb: 128, disk_gb: 1 });
    const flaky = flakyEndings(2, false);
    await run(flaky.queue, made.operation!.id);
    expect(flaky.calls).toEqual([made.operation!.id, made.operation!.id, made.operation!.id]);
    expect(await cp.services.vms.get(cp.scope, made.vm.id)).toMatchObject({ status: 'stopped' });
  });

  it('after a checkpoint the database did not take: the same attempt goes on once it does', async () => {
    const made = await cp.services.vms.create(cp.scope, { name: 'checkpoint-late', cpu_cores: 1, memory_mb: 128, disk_gb: 1 });
    await run(flakyEndings(0, false, 2).queue, made.operation!.id);
    const [op] = await cp.database.sql`SELECT attempts FROM operations WHERE id = ${made.operation!.id}`;
    expect(op!.attempts).toBe(1);
    expect(await cp.services.vms.get(cp.scope, made.vm.id)).toMatchObject({ status: 'stopped' });
    expect(cp.hypervisor.domains.has(await cp.domainRef(made.vm.id))).toBe(true);
  });

  it('that landed though its answer was lost is not written again, and the domain it made stays', async () => {
    const made = await cp.services.vms.create(cp.scope, { name: 'landed', cpu_cores: 1, memory_mb: 128, disk_gb: 1 });
    const flaky = flakyEndings(1, true);
    await run(flaky.queue, made.operation!.id);
    expect(flaky.calls).toHaveLength(2);
    const ref = await cp.domainRef(made.vm.id);
    // Not taken for a create cancelled while defining: its domain is kept.
    expect(cp.hypervisor.domains.has(ref)).toBe(true);
    const ends = await cp.database
      .sql`SELECT count(*)::int AS n FROM events WHERE operation_id = ${made.operation!.id} AND type = 'operation.succeeded'`;
    expect(ends[0]!.n).toBe(1);
  });
});
