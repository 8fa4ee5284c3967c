import { afterEach, describe, expect, it } from 'vitest';
import { Reconciler, silentLogger } from '../src/index.js';
import { startTestControlPlane, type TestControlPlane } from '../src/testing/index.js';
import { DomainsInHand } from '../src/worker/domains-in-hand.js';

// What the hypervisor reports of a domain an operation is acting on is that operation's doing:
// the worker holds the domain while its part at the host runs, and the reconciler leaves those
// changes alone without looking them up (worker/domains-in-hand.ts).

let cp: TestControlPlane | undefined;
afterEach(async () => {
  await cp?.shutdown();
  cp = undefined;
});

const small = { memory_mb: 128, disk_gb: 1, cpu_cores: 1 };

/** A VM made and started, with its domain and its host. */
async function runningVm(c: TestControlPlane, name: string) {
  const { services, scope } = c;
  const r = await services.vms.create(scope, { name, start: true, ...small });
  expect((await services.operations.wait(scope, r.operation!.id, { timeout_ms: 5_000 })).operation.status).toBe('succeeded');
  const vm = await services.vms.get(scope, r.vm.id);
  return { id: vm.id, host: vm.host_id!, ref: await c.domainRef(vm.id) };
}

describe('domains in hand', () => {
  it('are held from the claim of an operation on them (or their definition) until its part at the host ends', async () => {
    // Long enough for a create's definition and checkpoint on a loaded machine, before its start hangs.
    cp = await startTestControlPlane({ worker: { max_operation_ms: 1_500 } });
    const { services, scope } = cp;
    const worker = cp.worker!;
    // The reconciler of the process is the one that leaves those domains alone.
    expect(cp.reconciler!.inHand).toBe(worker.inHand);
    // A create: its domain is in hand from its definition, while its start hangs.
    cp.hypervisor.inject({ method: 'start_vm', kind: 'hang' });
    const r = await services.vms.create(scope, { name: 'in-hand', start: true, ...small });
    const host = (await services.vms.get(scope, r.vm.id)).host_id!;
    await expect.poll(async () => worker.inHand.has(host, await cp!.domainRef(r.vm.id).catch(() => '')), { timeout: 5_000 }).toBe(true);
    expect((await services.operations.wait(scope, r.operation!.id, { timeout_ms: 5_000 })).operation.status).toBe('failed');
    expect(worker.inHand.size).toBe(0);
    // An operation on a VM that has its domain: from its claim.
    const b = await runningVm(cp, 'in-hand-too');
    cp.hypervisor.inject({ method: 'stop_vm', kind: 'hang' });
    const stop = await services.vms.stop(scope, b.id);
    await expect.poll(() => worker.inHand.has(b.host, b.ref), { timeout: 5_000 }).toBe(true);
    expect((await services.operations.wait(scope, stop.operation!.id, { timeout_ms: 5_000 })).operation.status).toBe('failed');
    expect(worker.inHand.size).toBe(0);
  });

  it('are let go once their operation is aborted, before its ending is written', async () => {
    // Long enough for the create and its start on a loaded machine.
    cp = await startTestControlPlane({ worker: { max_operation_ms: 1_500 } });
    const { services, scope } = cp;
    const worker = cp.worker!;
    const vm = await runningVm(cp, 'let-go');
    // The stop hangs until its deadline; then asking the host what it shows (for the ending) hangs too.
    cp.hypervisor.inject({ method: 'stop_vm', kind: 'hang' });
    cp.hypervisor.inject({ method: 'get_vm', kind: 'hang', times: 10 });
    const stop = await services.vms.stop(scope, vm.id);
    await expect.poll(() => worker.inHand.has(vm.host, vm.ref), { timeout: 5_000 }).toBe(true);
    // Aborted at its deadline and not yet ended: what the hypervisor says is the reconciler's again.
    await expect.poll(() => worker.inHand.has(vm.host, vm.ref), { timeout: 5_000 }).toBe(false);
    expect((await services.operations.get(scope, stop.operation!.id)).status).toBe('running');
    cp.hypervisor.clearFaults();
    cp.hypervisor.abortPending(vm.ref, 'the test is done waiting');
    expect((await services.operations.wait(scope, stop.operation!.id, { timeout_ms: 5_000 })).operation.status).toBe('failed');
  });

  it('are let go once their operation’s part at the host is done, while its ending waits to be written', async () => {
    cp = await startTestControlPlane();
    const { services, scope } = cp;
    const worker = cp.worker!;
    const vm = await runningVm(cp, 'done-at-host');
    cp.hypervisor.setLatency(1_500);
    const stop = await services.vms.stop(scope, vm.id);
    // Claimed, and at the host for a while (each call takes 1.5 s).
    await expect.poll(() => worker.inHand.has(vm.host, vm.ref), { timeout: 5_000 }).toBe(true);
    await cp.database.sql.begin(async (tx) => {
      // The VM's row held as an ending holds it: the stop's ending waits for it once the host has
      // stopped the domain. (FOR UPDATE would also hold back the claim's event rows, which refer to the VM.)
      await tx`SELECT id FROM vms WHERE id = ${vm.id} FOR NO KEY UPDATE`;
      await expect.poll(() => worker.inHand.has(vm.host, vm.ref), { timeout: 10_000 }).toBe(false);
      expect(cp!.hypervisor.mustGet(vm.ref).state).toBe('shutoff');
      expect((await tx`SELECT status FROM operations WHERE id = ${stop.operation!.id}`)[0]!.status).toBe('running');
    });
    cp.hypervisor.setLatency(0);
    expect((await services.operations.wait(scope, stop.operation!.id, { timeout_ms: 5_000 })).operation.status).toBe('succeeded');
  });

  it('have their changes left to the operation, not looked up; the periodic pass checks them after', async () => {
    cp = await startTestControlPlane({ reconciler: false });
    const { services, scope } = cp;
    const vm = await runningVm(cp, 'acted-on');
    const other = await runningVm(cp, 'not-acted-on');
    const inHand = new DomainsInHand();
    const release = inHand.hold(vm.host, vm.ref);
    const reconciler = new Reconciler({ db: cp.database.db, drivers: cp.drivers, logger: silentLogger, interval_ms: 60_000, inHand });
    // Which domains' changes the reconciler looked up.
    const lookedUp: string[] = [];
    const onDomainChange = reconciler.drift.onDomainChange.bind(reconciler.drift);
    reconciler.drift.onDomainChange = (hostId, change, at) => {
      lookedUp.push(change.ref);
      return onDomainChange(hostId, change, at);
    };
    reconciler.start();
    try {
      // Not in hand, a crash is drift within a second (the other VM's); in hand, it is the
      // operation's, and is not looked up.
      cp.hypervisor.crash(vm.ref);
      cp.hypervisor.crash(other.ref);
      expect(await services.vms.wait(scope, other.id, 'stopped', { timeout_ms: 5_000 })).toMatchObject({ timed_out: false });
      expect(lookedUp).toEqual([other.ref]);
      expect((await services.vms.get(scope, vm.id)).status).toBe('running');
      release();
      expect((await reconciler.runOnce()).drifted).toBe(1);
      expect((await services.vms.get(scope, vm.id)).status).toBe('stopped');
    } finally {
      await reconciler.stop();
    }
  });
});
