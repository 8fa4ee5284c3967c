import { afterEach, describe, expect, it } from 'vitest';
import { Reconciler, silentLogger, type VmStatus, Worker } from '../src/index.js';
import { startTestControlPlane, type TestControlPlane } from '../src/testing/index.js';
import { vmsOfDomain } from '../src/worker/maintenance/drift.js';

let cp: TestControlPlane | undefined;
afterEach(async () => {
  await cp?.shutdown();
  cp = undefined;
});

const small = { memory_mb: 128, disk_gb: 1, cpu_cores: 1 };
const STABLE: VmStatus[] = ['running', 'stopped', 'paused', 'error', 'unknown', 'deleted'];

describe('crash takeover', () => {
  it('lets another worker take over an operation whose worker died', async () => {
    cp = await startTestControlPlane({ worker: false, reconciler: false });
    const { services, scope } = cp;
    const r = await services.vms.create(scope, { name: 'orphaned', start: true, ...small });
    // A worker claims the operation and dies: no renewals, no ending.
    const doomed = new Worker({ db: cp.database.db, drivers: cp.drivers, lease_ms: 300, logger: silentLogger });
    const claimed = await doomed.claim();
    expect(claimed?.id).toBe(r.operation!.id);
    // It had defined the domain before dying, without recording it.
    await cp.driver.define({
      vm_id: r.vm.id,
      name: 'orphaned',
      cpu_cores: 1,
      memory_mb: 128,
      disk_gb: 1,
      os_type: 'linux',
      network: r.vm.network,
      vnc_enabled: true,
    });

    const heir = new Worker({
      db: cp.database.db,
      drivers: cp.drivers,
      notifier: cp.notifier,
      lease_ms: 300,
      poll_ms: 50,
      logger: silentLogger,
    });
    expect(await heir.claim()).toBeNull(); // the lease still holds
    heir.start();
    try {
      const { operation } = await services.operations.wait(scope, r.operation!.id, { timeout_ms: 10_000 });
      expect(operation).toMatchObject({ status: 'succeeded', attempts: 2 });
      expect((await services.vms.get(scope, r.vm.id)).status).toBe('running');
      // The heir found the domain the dead worker defined instead of making a second one.
      expect(cp.hypervisor.domains.size).toBe(1);
      const events = await services.vms.events(scope, r.vm.id);
      expect(events.some((e) => e.type === 'operation.retried' && e.message.includes(heir.id))).toBe(true);
    } finally {
      await heir.stop();
    }
  });

  it('tries again later when the host cannot be reached, and fails once the attempts are spent', async () => {
    cp = await startTestControlPlane({ worker: { poll_ms: 50, retry_base_ms: 100, max_attempts: 3 } });
    const { services, scope } = cp;
    const r = await services.vms.create(scope, { name: 'patient', ...small });
    await services.operations.wait(scope, r.operation!.id, { timeout_ms: 5_000 });

    // One outage: the start waits it out and succeeds on its second attempt.
    cp.hypervisor.inject({ method: 'start_vm', kind: 'unreachable', message: 'host restarting' });
    const start = await services.vms.start(scope, r.vm.id);
    const { operation } = await services.operations.wait(scope, start.operation!.id, { timeout_ms: 5_000 });
    expect(operation).toMatchObject({ status: 'succeeded', attempts: 2 });
    const retrying = (await services.vms.events(scope, r.vm.id)).filter(
      (e) => e.operation_id === start.operation!.id && e.type === 'operation.retrying',
    );
    expect(retrying).toHaveLength(1);
    expect(retrying[0]!.message).toMatch(/start will be tried again in 0\.1 s: host restarting/);

    // An outage that outlasts the attempts: the operation fails, saying it gave up.
    cp.hypervisor.inject({ method: 'pause_vm', kind: 'unreachable', times: 10 });
    const pause = await services.vms.pause(scope, r.vm.id);
    const paused = await services.operations.wait(scope, pause.operation!.id, { timeout_ms: 5_000 });
    expect(paused.operation).toMatchObject({
      status: 'failed',
      error: expect.stringMatching(/host restarting|injected|unreachable|gave up/),
    });
    expect(paused.operation.attempts).toBe(3);
    expect((await services.vms.get(scope, r.vm.id)).status).toBe('running');

    // Other failures are not retried: the host answered, and would answer the same.
    cp.hypervisor.clearFaults();
    cp.hypervisor.inject({ method: 'pause_vm', kind: 'fail', message: 'no room' });
    const refused = await services.vms.pause(scope, r.vm.id);
    const ended = await services.operations.wait(scope, refused.operation!.id, { timeout_ms: 5_000 });
    expect(ended.operation).toMatchObject({ status: 'failed', attempts: 1, error: 'no room' });
  });

  it('fails an operation after too many takeovers', async () => {
    cp = await startTestControlPlane({ worker: false, reconciler: false });
    const { services, scope } = cp;
    const r = await services.vms.create(scope, { name: 'cursed', ...small });
    for (let i = 0; i < 3; i++) {
      const w = new Worker({ db: cp.database.db, drivers: cp.drivers, lease_ms: 1, logger: silentLogger });
      await new Promise((res) => setTimeout(res, 5));
      expect(await w.claim()).not.toBeNull();
    }
    await new Promise((res) => setTimeout(res, 5));
    const last = new Worker({ db: cp.database.db, drivers: cp.drivers, max_attempts: 3, logger: silentLogger });
    expect(await last.drain()).toBe(1);
    const op = await services.operations.get(scope, r.operation!.id);
    expect(op).toMatchObject({ status: 'failed', attempts: 4 });
    expect(op.error).toContain('gave up');
    expect((await services.vms.get(scope, r.vm.id)).status).toBe('error');
  });

  it('releases its leases on a graceful stop, so work moves on at once', async () => {
    cp = await startTestControlPlane({ worker: false, reconciler: false });
    const { services, scope } = cp;
    cp.hypervisor.setLatency(10_000);
    const r = await services.vms.create(scope, { name: 'handover', ...small });
    const first = new Worker({
      db: cp.database.db,
      drivers: cp.drivers,
      notifier: cp.notifier,
      lease_ms: 60_000,
      poll_ms: 20,
      logger: silentLogger,
    });
    first.start();
    await expect.poll(() => first.inFlight).toBe(1);
    await first.stop(50);
    cp.hypervisor.setLatency(0);
    const second = new Worker({ db: cp.database.db, drivers: cp.drivers, logger: silentLogger });
    expect(await second.drain()).toBe(1);
    expect((await services.operations.get(scope, r.operation!.id)).status).toBe('succeeded');
  });
});

describe('fault injection', () => {
  it('ends every operation succeeded or failed with a reason, and every VM stable', async () => {
    cp = await startTestControlPlane({
      simulator: { seed: 2024, latency_ms: [1, 20], faults: { fail: 0.15, hang: 0.08, crash: 0.03 } },
      worker: { max_operation_ms: 400, concurrency: 16 },
    });
    const { services, scope } = cp;
    const created = await Promise.all(Array.from({ length: 12 }, (_, i) => services.vms.create(scope, { name: `chaos-${i}`, ...small })));
    const ids = created.map((c) => c.vm.id);
    const actions = ['start', 'stop', 'pause', 'resume', 'restart', 'reset', 'force_stop'] as const;
    for (let round = 0; round < 8; round++) {
      await Promise.allSettled(ids.map((id, i) => services.vms[actions[(i + round * 3) % actions.length]!](scope, id)));
      await new Promise((res) => setTimeout(res, 60));
    }
    await Promise.allSettled(ids.map((id, i) => services.vms.delete(scope, id, { force: i % 2 === 0 })));
    // Wait for quiet: no operation pending or running.
    await expect
      .poll(async () => (await cp!.database.sql`SELECT count(*)::int AS n FROM operations WHERE status IN ('pending', 'running')`)[0]!.n, {
        timeout: 20_000,
        interval: 100,
      })
      .toBe(0);
    const ops = await cp.database.sql<{ status: string; error: string | null }[]>`SELECT status, error FROM operations`;
    expect(ops.length).toBeGreaterThan(30);
    for (const op of ops) {
      expect(['succeeded', 'failed', 'cancelled']).toContain(op.status);
      if (op.status !== 'succeeded') expect(op.error, op.status).toBeTruthy();
    }
    expect(ops.some((o) => o.status === 'failed')).toBe(true);
    expect(ops.some((o) => o.status === 'succeeded')).toBe(true);
    const vms = await cp.database.sql<
      { status: VmStatus; current_operation_id: string | null }[]
    >`SELECT status, current_operation_id FROM vms`;
    for (const vm of vms) {
      expect(STABLE).toContain(vm.status);
      expect(vm.current_operation_id).toBeNull();
    }
  });

  it('is reproducible: the same seed gives the same faults', async () => {
    const { SimulatedHypervisor, SimulatorClient } = await import('../src/index.js');
    const run = async () => {
      const h = new SimulatedHypervisor({ seed: 99, faults: { fail: 0.3 } });
      const c = new SimulatorClient({ hypervisor: h });
      const outcomes: string[] = [];
      for (let i = 0; i < 30; i++) {
        outcomes.push(
          await c.listVms().then(
            () => 'ok',
            (e: Error) => e.name,
          ),
        );
      }
      return outcomes.join(',');
    };
    const a = await run();
    expect(a).toContain('NoResourcesAvailableError');
    expect(await run()).toBe(a);
  });
});

describe('reconciler', () => {
  const reconcilerFor = (c: TestControlPlane) => new Reconciler({ db: c.database.db, drivers: c.drivers, logger: silentLogger });

  it('fails an operation past its deadline and records what the host shows', async () => {
    cp = await startTestControlPlane({ worker: false, reconciler: false });
    const { services, scope } = cp;
    const r = await services.vms.create(scope, { name: 'late', ...small });
    await new Worker({ db: cp.database.db, drivers: cp.drivers, logger: silentLogger }).drain();
    const start = await services.vms.start(scope, r.vm.id);
    const reconciler = reconcilerFor(cp);
    expect(await reconciler.expireOverdue()).toBe(0);
    // Time passes: the start is overdue and no worker ran it.
    await cp.database.sql`UPDATE operations SET deadline_at = now() - interval '1 second' WHERE id = ${start.operation!.id}`;
    expect(await reconciler.expireOverdue()).toBe(1);
    const op = await services.operations.get(scope, start.operation!.id);
    expect(op.status).toBe('failed');
    expect(op.error).toMatch(/deadline exceeded: start did not finish by .*; the hypervisor shows stopped/);
    const vm = await services.vms.get(scope, r.vm.id);
    expect(vm).toMatchObject({ status: 'stopped', current_operation_id: null });
    expect(vm.last_error).toContain('deadline exceeded');
  });

  it('fails a hung driver call at the deadline, with the observed state', async () => {
    cp = await startTestControlPlane({ worker: { max_operation_ms: 300 } });
    const { services, scope } = cp;
    const r = await services.vms.create(scope, { name: 'stuck', start: true, ...small });
    await services.operations.wait(scope, r.operation!.id, { timeout_ms: 5_000 });
    cp.hypervisor.inject({ method: 'pause_vm', kind: 'hang' });
    const pause = await services.vms.pause(scope, r.vm.id);
    const { operation } = await services.operations.wait(scope, pause.operation!.id, { timeout_ms: 5_000 });
    expect(operation.status).toBe('failed');
    expect(operation.error).toContain('deadline exceeded');
    expect((await services.vms.get(scope, r.vm.id)).status).toBe('running');
  });

  it('notices a crash and a guest power-off within a second', async () => {
    cp = await startTestControlPlane({ reconciler: { interval_ms: 60_000 } });
    const { services, scope } = cp;
    const a = await services.vms.create(scope, { name: 'crashy', start: true, ...small });
    const b = await services.vms.create(scope, { name: 'self-stop', start: true, ...small });
    await services.operations.wait(scope, a.operation!.id, { timeout_ms: 5_000 });
    await services.operations.wait(scope, b.operation!.id, { timeout_ms: 5_000 });
    const t0 = Date.now();
    cp.hypervisor.crash(await cp.domainRef(a.vm.id));
    cp.hypervisor.guestPoweroff(await cp.domainRef(b.vm.id));
    const crashed = await services.vms.wait(scope, a.vm.id, 'stopped', { timeout_ms: 1_000 });
    const off = await services.vms.wait(scope, b.vm.id, 'stopped', { timeout_ms: 1_000 });
    expect(Date.now() - t0).toBeLessThan(1_000);
    expect(crashed).toMatchObject({ timed_out: false, vm: { status: 'stopped', last_error: 'the domain crashed' } });
    expect(off).toMatchObject({ timed_out: false, vm: { status: 'stopped', last_error: null } });
    const events = await services.vms.events(scope, a.vm.id);
    expect(events.at(-1)).toMatchObject({ type: 'vm.drift', from_status: 'running', to_status: 'stopped' });
  });

  it("does not move a VM by a domain event heard before the VM last changed (it was that change's doing)", async () => {
    cp = await startTestControlPlane({ reconciler: { interval_ms: 60_000 } });
    const { services, scope } = cp;
    const r = await services.vms.create(scope, { name: 'told-late', start: true, ...small });
    await services.operations.wait(scope, r.operation!.id, { timeout_ms: 5_000 });
    const ref = await cp.domainRef(r.vm.id);
    await cp.database.sql.begin(async (tx) => {
      // Hold the event's handling back until the VM has changed after the event was heard, as a
      // restart's ending overtakes the handling of the guest reboot's power-off.
      await tx`LOCK TABLE vms IN ACCESS EXCLUSIVE MODE`;
      cp!.hypervisor.guestPoweroff(ref);
      await expect
        .poll(async () => (await cp!.database.sql`SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock'`)[0]!.n)
        .toBeGreaterThan(0);
      await tx`UPDATE vms SET version = version + 1, updated_at = clock_timestamp() WHERE id = ${r.vm.id}`;
    });
    await expect
      .poll(async () => (await cp!.database.sql`SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock'`)[0]!.n)
      .toBe(0);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect((await services.vms.get(scope, r.vm.id)).status).toBe('running');
    expect((await services.vms.events(scope, r.vm.id)).some((e) => e.type === 'vm.drift')).toBe(false);
    // The periodic pass compares it with the hypervisor anew.
    expect((await reconcilerFor(cp).runOnce()).drifted).toBe(1);
    expect((await services.vms.get(scope, r.vm.id)).status).toBe('stopped');
  });

  it('notices a vanished domain and an unreachable host on its periodic pass', async () => {
    cp = await startTestControlPlane({ reconciler: false });
    const { services, scope } = cp;
    const a = await services.vms.create(scope, { name: 'vanishing', start: true, ...small });
    const b = await services.vms.create(scope, { name: 'steady', start: true, ...small });
    await services.operations.wait(scope, a.operation!.id, { timeout_ms: 5_000 });
    await services.operations.wait(scope, b.operation!.id, { timeout_ms: 5_000 });
    const reconciler = reconcilerFor(cp);
    expect((await reconciler.runOnce()).drifted).toBe(0);

    cp.hypervisor.domains.delete(await cp.domainRef(a.vm.id));
    expect((await reconciler.runOnce()).drifted).toBe(1);
    expect(await services.vms.get(scope, a.vm.id)).toMatchObject({ status: 'error', last_error: 'the domain vanished from its host' });

    cp.hypervisor.inject({ method: 'list_vms', kind: 'fail', times: 1 });
    await reconciler.runOnce();
    expect((await services.vms.get(scope, b.vm.id)).status).toBe('unknown');
    expect((await services.hosts.get(cp.hosts[0]!.id)).status).toBe('offline');
    // Unknown allows a forced stop, nothing gentler.
    expect((await services.vms.get(scope, b.vm.id)).allowed_actions).toEqual(['force_stop', 'update_metadata', 'delete']);

    await reconciler.runOnce();
    expect((await services.vms.get(scope, b.vm.id)).status).toBe('running');
    expect((await services.hosts.get(cp.hosts[0]!.id)).status).toBe('online');
  });

  it('does not judge a VM that settled while the hypervisor was being listed', async () => {
    cp = await startTestControlPlane({ reconciler: false });
    const { services, scope } = cp;
    const reconciler = reconcilerFor(cp);
    const list = cp.driver.list.bind(cp.driver);
    let late: string | undefined;
    // A create finishes between the hypervisor's answer and the reconciler's read of the VMs.
    cp.driver.list = async (opts) => {
      const answer = await list(opts);
      const r = await services.vms.create(scope, { name: 'just-made', ...small });
      await services.operations.wait(scope, r.operation!.id, { timeout_ms: 5_000 });
      late = r.vm.id;
      return answer;
    };
    expect((await reconciler.runOnce()).drifted).toBe(0);
    expect((await services.vms.get(scope, late!)).status).toBe('stopped');
    cp.driver.list = list;
    expect((await reconciler.runOnce()).drifted).toBe(0);
  });
});

describe("a domain event's VM", () => {
  it('is found by its domain alone, however stale the statistics: never by reading every live VM', async () => {
    cp = await startTestControlPlane({ worker: false, reconciler: false });
    const { database, scope } = cp;
    const sql = database.sql;
    const [host] = await sql<{ id: string }[]>`SELECT id FROM hosts LIMIT 1`;
    // Statistics of an empty table, and a burst of VMs after them (as after a bench's creates,
    // until autovacuum analyses it again).
    await sql`ALTER TABLE vms SET (autovacuum_enabled = false)`;
    await sql`ANALYZE vms`;
    await sql`
      INSERT INTO vms (project_id, host_id, number, name, status, cpu_cores, memory_mb, disk_gb, os_type, labels, network, vnc_enabled, domain_ref)
      SELECT ${scope.project_id}, ${host!.id}, n, 'burst-' || n, 'running', 1, 128, 1, 'linux', '{}'::jsonb,
        '{"type": "nat", "bridge_name": null, "mac_address": null, "ip_address": null}'::jsonb, true, 'dom-' || n
      FROM generate_series(1, 3000) AS n`;
    const { sql: text, params } = vmsOfDomain(database.db, 'dom-42').toSQL();
    const [plan] = await sql.unsafe(`EXPLAIN (FORMAT JSON) ${text}`, params as string[]);
    const indexes = [...JSON.stringify(plan).matchAll(/"Index Name":"([^"]+)"/g)].map((m) => m[1]);
    expect(indexes).toEqual(['vms_domain_ref_idx']);
    expect((await vmsOfDomain(database.db, 'dom-42')).map((v) => v.domain_ref)).toEqual(['dom-42']);
  });
});
