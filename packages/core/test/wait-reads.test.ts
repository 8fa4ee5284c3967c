import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Scope } from '../src/index.js';
import { ensureProject } from '../src/services/projects.js';
import { type ChangeNotice, notifyChange } from '../src/store/notifier.js';
import { createTestDatabase, startTestControlPlane, type TestControlPlane } from '../src/testing/index.js';

// A caller waiting on an operation or a VM reads it again only on a change that may end its
// wait: every change announces itself with what it made, so one that cannot (an operation's
// queueing, a VM passing through a status not waited for) is passed over without a read.

let cp: TestControlPlane;
let scope: Scope;
/** Every statement sent, as it is sent. */
const sent: string[] = [];
const readsOf = (table: string) => sent.filter((s) => /^select /i.test(s.trim()) && s.includes(`from "${table}"`)).length;
/** Reads of an operation together with its VM. */
const jointReads = () => sent.filter((s) => /^select /i.test(s.trim()) && s.includes('from "operations" inner join "vms"')).length;
const tick = (ms = 400) => new Promise((r) => setTimeout(r, ms));
const small = { cpu_cores: 1, memory_mb: 256, disk_gb: 1 };
/** Past the fallback re-check (15 s): a wait still going then was woken by nothing. */
const WAIT_MS = 20_000;

beforeAll(async () => {
  const database = await createTestDatabase({ onStatement: (q) => sent.push(q) });
  cp = await startTestControlPlane({ database, worker: false, reconciler: false });
  scope = { project_id: (await ensureProject(database.db, 'wait-reads')).id, actor: 'test' };
});
afterAll(async () => {
  await cp?.shutdown();
  await cp?.database.close();
});

const announce = (notice: ChangeNotice) => notifyChange(cp.database.db, notice);
/** Waits for `table` to have been read `n` times in all (each wake-up's read, one at a time). */
const readsReach = (table: string, n: number) => expect.poll(() => readsOf(table), { timeout: 10_000 }).toBe(n);
/** Settles `waited` within 5 s of the notice that ends it: woken by that notice, not the fallback re-check. */
async function promptly<T>(waited: Promise<T>): Promise<T> {
  const late = new Promise<never>((_, reject) => setTimeout(() => reject(new Error('not woken by its notice')), 5_000));
  return Promise.race([waited, late]);
}

describe('a caller waiting', () => {
  /** Waits on the operation just queued (its own notice still on its way) and ends it by hand. */
  async function waitOnQueued(vmId: string, opId: string) {
    const before = readsOf('operations');
    const waited = cp.services.operations.wait(scope, opId, { timeout_ms: WAIT_MS });
    let ended = false;
    void waited.then(() => (ended = true));
    await readsReach('operations', before + 1);
    // The queueing's own notice, and another like it: the operation is still open.
    await announce({ vm_id: vmId, operation_id: opId, status: 'provisioning', operation_open: true });
    await tick();
    // Finished without a word: no notice has said so yet, so nothing is read.
    await cp.database.sql`UPDATE operations SET status = 'failed', error = 'by hand', finished_at = now() WHERE id = ${opId}`;
    await announce({ vm_id: vmId, operation_id: opId, status: 'provisioning', operation_open: true });
    await tick();
    expect(ended).toBe(false);
    expect(readsOf('operations')).toBe(before + 1);
    // A change that may have ended it (an ending's notice says nothing of the operation being open).
    await announce({ vm_id: vmId, operation_id: opId, status: 'error' });
    expect(await promptly(waited)).toMatchObject({ timed_out: false, operation: { id: opId, status: 'failed' } });
    // Once when the wait began, once at the change that ended it.
    expect(readsOf('operations')).toBe(before + 2);
  }

  it('on an operation reads it again when it may have finished, not at its queueing (a create)', async () => {
    const made = await cp.services.vms.create(scope, { name: 'waited-op', ...small });
    await waitOnQueued(made.vm.id, made.operation!.id);
  });

  it('on an operation reads it again when it may have finished, not at its queueing (an action on a VM)', async () => {
    const made = await cp.services.vms.create(scope, { name: 'waited-start', ...small });
    await cp.database.sql`UPDATE operations SET status = 'succeeded', finished_at = now() WHERE id = ${made.operation!.id}`;
    await cp.database.sql`UPDATE vms SET status = 'stopped', current_operation_id = NULL WHERE id = ${made.vm.id}`;
    const started = await cp.services.vms.start(scope, made.vm.id);
    await waitOnQueued(made.vm.id, started.operation!.id);
  });

  it('for an outcome (wait: true) reads the operation and its VM together, the VM as the operation ended', async () => {
    const made = await cp.services.vms.create(scope, { name: 'waited-outcome', ...small });
    const opId = made.operation!.id;
    const ops = readsOf('operations');
    const joints = jointReads();
    const vmReads = readsOf('vms');
    const waited = cp.services.operations.outcome(scope, opId, { timeout_ms: WAIT_MS });
    await readsReach('operations', ops + 1);
    await announce({ vm_id: made.vm.id, operation_id: opId, status: 'provisioning', operation_open: true });
    await tick();
    await cp.database.sql.begin(async (tx) => {
      await tx`UPDATE operations SET status = 'succeeded', finished_at = now() WHERE id = ${opId}`;
      await tx`UPDATE vms SET status = 'stopped', current_operation_id = NULL, version = version + 1 WHERE id = ${made.vm.id}`;
    });
    await announce({ vm_id: made.vm.id, operation_id: opId, status: 'stopped' });
    expect(await promptly(waited)).toMatchObject({
      timed_out: false,
      operation: { id: opId, status: 'succeeded' },
      vm: { id: made.vm.id, status: 'stopped', version: made.vm.version + 1, current_operation_id: null },
    });
    // Two statements in all, each reading both.
    expect(readsOf('operations')).toBe(ops + 2);
    expect(jointReads()).toBe(joints + 2);
    expect(readsOf('vms')).toBe(vmReads);
  });

  it('for an outcome that times out answers with the VM as it is then, not as it was last read', async () => {
    const made = await cp.services.vms.create(scope, { name: 'outcome-late', ...small });
    const ops = readsOf('operations');
    const waited = cp.services.operations.outcome(scope, made.operation!.id, { timeout_ms: 2_000 });
    await readsReach('operations', ops + 1);
    await cp.database.sql`UPDATE vms SET labels = '{"changed": "meanwhile"}' WHERE id = ${made.vm.id}`;
    expect(await waited).toMatchObject({
      timed_out: true,
      operation: { id: made.operation!.id, status: 'pending' },
      vm: { id: made.vm.id, labels: { changed: 'meanwhile' } },
    });
    // Read when the wait began and once more at the timeout.
    expect(readsOf('operations')).toBe(ops + 2);
  });

  it('on a VM reads it again at a change to a status waited for, or of an unknown kind', async () => {
    const made = await cp.services.vms.create(scope, { name: 'waited-vm', ...small });
    const id = made.vm.id;
    await cp.database.sql`UPDATE vms SET status = 'stopped' WHERE id = ${id}`;
    const before = readsOf('vms');
    const waited = cp.services.vms.wait(scope, id, ['running', 'paused'], { timeout_ms: WAIT_MS });
    let ended = false;
    void waited.then(() => (ended = true));
    await readsReach('vms', before + 1);
    // Passing through statuses not waited for: no read.
    await announce({ vm_id: id, operation_id: null, status: 'starting' });
    await announce({ vm_id: id, operation_id: null, status: 'stopped' });
    await tick();
    expect(readsOf('vms')).toBe(before + 1);
    // Said to be running (the row says otherwise: a notice is a wake-up, the row is the answer): read, and waiting goes on.
    await announce({ vm_id: id, operation_id: null, status: 'running' });
    await readsReach('vms', before + 2);
    // A resync after a reconnect names no status: read.
    await announce({ vm_id: id, operation_id: null, status: 'resync' });
    await readsReach('vms', before + 3);
    expect(ended).toBe(false);
    await cp.database.sql`UPDATE vms SET status = 'paused' WHERE id = ${id}`;
    await announce({ vm_id: id, operation_id: null, status: 'paused' });
    expect(await promptly(waited)).toMatchObject({ timed_out: false, vm: { id, status: 'paused' } });
    expect(readsOf('vms')).toBe(before + 4);
  });
});
