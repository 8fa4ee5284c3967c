import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type DomainState,
  HangarError,
  isStable,
  type OperationAction,
  rule,
  SimulatedDriver,
  silentLogger,
  type VmStatus,
  Worker,
} from '../src/index.js';
import { startTestControlPlane, type TestControlPlane } from '../src/testing/index.js';

let cp: TestControlPlane;
beforeAll(async () => {
  cp = await startTestControlPlane({ simulator: { latency_ms: [5, 30], seed: 11 } });
});
afterAll(() => cp?.shutdown());

async function settled(vmId: string) {
  for (let i = 0; i < 200; i++) {
    const vm = await cp.services.vms.get(cp.scope, vmId);
    if (isStable(vm.status)) return vm;
    await cp.services.vms.wait(cp.scope, vmId, ['running', 'stopped', 'paused', 'error', 'unknown', 'deleted'], { timeout_ms: 5_000 });
  }
  throw new Error('never settled');
}

/** The VM's status and its open operations, as one moment of the database saw them. */
async function snapshot(vmId: string) {
  return cp.database.sql.begin('isolation level repeatable read', async (tx) => {
    const [vm] = await tx<{ status: VmStatus; current_operation_id: string | null }[]>`
      SELECT status, current_operation_id FROM vms WHERE id = ${vmId}`;
    const open = await tx<{ id: string; action: string }[]>`
      SELECT id, action FROM operations WHERE vm_id = ${vmId} AND status IN ('pending', 'running')`;
    return { vm: vm!, open };
  });
}

async function openOps(vmId: string) {
  return cp.database.sql<{ id: string; action: string }[]>`
    SELECT id, action FROM operations WHERE vm_id = ${vmId} AND status IN ('pending', 'running')`;
}

describe('concurrency', () => {
  it('leaves a VM hit by 50 conflicting actions in a state the table allows, one operation at a time', async () => {
    const { services, scope } = cp;
    const r = await services.vms.create(scope, { name: 'contested', start: true, memory_mb: 256, disk_gb: 1, cpu_cores: 1 });
    await settled(r.vm.id);
    const actions = ['start', 'stop', 'pause', 'resume', 'restart', 'reset', 'force_stop'] as const;
    for (let round = 0; round < 3; round++) {
      const calls = Array.from({ length: 50 }, (_, i) => actions[(i * 7 + round) % actions.length]!);
      const results = await Promise.allSettled(calls.map((a) => services.vms[a](scope, r.vm.id)));
      for (const res of results) {
        if (res.status === 'rejected') {
          expect(res.reason).toBeInstanceOf(HangarError);
          expect(['INVALID_STATE', 'OPERATION_IN_PROGRESS']).toContain((res.reason as HangarError).code);
        }
      }
      // Right after the burst: the VM's status matches the single operation in flight, if any
      // (both read in one snapshot: the operation may end between two separate reads).
      const { vm, open } = await snapshot(r.vm.id);
      expect(open.length).toBeLessThanOrEqual(1);
      if (open.length === 1) {
        expect(vm.current_operation_id).toBe(open[0]!.id);
        expect(vm.status).toBe(rule(open[0]!.action as OperationAction).during);
      } else {
        expect(isStable(vm.status)).toBe(true);
      }
      const final = await settled(r.vm.id);
      expect(['running', 'stopped', 'paused']).toContain(final.status);
      expect(await openOps(r.vm.id)).toHaveLength(0);
      // And the record agrees with the hypervisor.
      const state = await cp.driver.state(await cp.domainRef(r.vm.id));
      expect(state).toBe(({ running: 'running', stopped: 'stopped', paused: 'paused' } as Record<VmStatus, DomainState>)[final.status]);
    }
  });

  it('never lets two workers run the same operation', async () => {
    const { services, scope } = cp;
    // A second worker, in competition with the control plane's own, on the same host.
    const busy = new Map<string, number>();
    let overlaps = 0;
    const tracked = new SimulatedDriver({ hypervisor: cp.hypervisor });
    for (const m of ['define', 'start', 'shutdown', 'kill'] as const) {
      const orig = (tracked[m] as (...a: unknown[]) => Promise<unknown>).bind(tracked);
      (tracked as unknown as Record<string, unknown>)[m] = async (...args: unknown[]) => {
        const key = typeof args[0] === 'string' ? args[0] : (args[0] as { vm_id: string }).vm_id;
        busy.set(key, (busy.get(key) ?? 0) + 1);
        if (busy.get(key)! > 1) overlaps++;
        try {
          return await orig(...args);
        } finally {
          busy.set(key, busy.get(key)! - 1);
        }
      };
    }
    const rival = new Worker({
      db: cp.database.db,
      drivers: new Map([[cp.hosts[0]!.id, tracked]]),
      notifier: cp.notifier,
      concurrency: 8,
      poll_ms: 50,
      logger: silentLogger,
    });
    rival.start();
    try {
      const created = await Promise.all(
        Array.from({ length: 40 }, (_, i) =>
          services.vms.create(scope, { name: `racer-${i}`, start: true, memory_mb: 128, disk_gb: 1, cpu_cores: 1 }),
        ),
      );
      await Promise.all(created.map((c) => services.operations.wait(scope, c.operation!.id, { timeout_ms: 20_000 })));
      const ids = created.map((c) => c.operation!.id);
      const starts = await cp.database.sql<{ operation_id: string; n: number; workers: string[] }[]>`
        SELECT operation_id, count(*)::int AS n, array_agg(message) AS workers FROM events
        WHERE operation_id = ANY(${ids}) AND type IN ('operation.started', 'operation.retried')
        GROUP BY operation_id`;
      expect(starts).toHaveLength(40);
      expect(starts.every((s) => s.n === 1)).toBe(true);
      const byRival = starts.filter((s) => s.workers[0]!.includes(rival.id)).length;
      expect(byRival).toBeGreaterThan(0);
      expect(byRival).toBeLessThan(40);
      expect(overlaps).toBe(0);
      const ops = await cp.database.sql`SELECT status FROM operations WHERE id = ANY(${ids})`;
      expect(ops.every((o) => o.status === 'succeeded')).toBe(true);
    } finally {
      await rival.stop();
    }
  });
});
