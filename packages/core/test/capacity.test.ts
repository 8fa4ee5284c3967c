import { afterEach, describe, expect, it } from 'vitest';
import { keptShapes } from '../src/store/statement-template.js';
import { startTestControlPlane, type TestControlPlane } from '../src/testing/index.js';

// Host capacity while deletes wait in the queue: a stopped VM's vCPUs and memory go back to its
// host when its delete is accepted, so creates are not refused meanwhile; its disk when it is done.

let cp: TestControlPlane | undefined;
afterEach(async () => {
  await cp?.shutdown();
  cp = undefined;
});

const allocated = async (c: TestControlPlane) => {
  const [h] = await c.database.sql`SELECT allocated_cpus, allocated_memory_mb, allocated_disk_gb FROM hosts`;
  return [h!.allocated_cpus, h!.allocated_memory_mb, h!.allocated_disk_gb];
};

describe('capacity and deletes', () => {
  it("gives a stopped VM's vCPUs and memory back when its delete is accepted, its disk when it is done", async () => {
    // Room for one 4-vCPU, 2 GB VM at a time; hypervisor calls take 400 ms, so the delete is still queued or running below.
    cp = await startTestControlPlane({ simulator: { capacity: { cpus: 1, memory_mb: 2048, disk_gb: 100 }, latency_ms: 400 } });
    const { services, scope } = cp;
    const spec = (name: string) => ({ name, cpu_cores: 4, memory_mb: 2048, disk_gb: 10 });
    const a = await services.vms.create(scope, spec('a'));
    await services.operations.wait(scope, a.operation!.id, { timeout_ms: 10_000 });
    await expect(services.vms.create(scope, spec('full'))).rejects.toMatchObject({ code: 'INSUFFICIENT_CAPACITY' });

    const del = await services.vms.delete(scope, a.vm.id);
    expect(del.operation!.status).toBe('pending');
    expect(await allocated(cp)).toEqual([0, 0, 10]);
    const b = await services.vms.create(scope, spec('b'));
    expect(b.vm.status).toBe('provisioning');

    expect((await services.operations.wait(scope, del.operation!.id, { timeout_ms: 10_000 })).operation.status).toBe('succeeded');
    await services.operations.wait(scope, b.operation!.id, { timeout_ms: 10_000 });
    expect(await allocated(cp)).toEqual([4, 2048, 10]);
  });

  it('takes it back when the delete fails: the VM keeps what it has', async () => {
    cp = await startTestControlPlane({ simulator: { capacity: { cpus: 1, memory_mb: 2048, disk_gb: 100 } } });
    const { services, scope } = cp;
    const a = await services.vms.create(scope, { name: 'a', cpu_cores: 4, memory_mb: 2048, disk_gb: 10 });
    await services.operations.wait(scope, a.operation!.id, { timeout_ms: 10_000 });
    cp.hypervisor.faults.inject({ method: 'delete_vm', kind: 'fail', message: 'the disk is busy' });
    const del = await services.vms.delete(scope, a.vm.id);
    expect((await services.operations.wait(scope, del.operation!.id, { timeout_ms: 10_000 })).operation.status).toBe('failed');
    expect((await services.vms.get(scope, a.vm.id)).status).not.toBe('deleted');
    expect(await allocated(cp)).toEqual([4, 2048, 10]);
  });

  it('gives them back at once for a VM still being created without being started, not for one being started', async () => {
    // No worker: both creates are still queued when their deletes come, and the deletes stay queued.
    cp = await startTestControlPlane({ simulator: { capacity: { cpus: 1, memory_mb: 4096, disk_gb: 100 } }, worker: false });
    const { services, scope } = cp;
    const idle = await services.vms.create(scope, { name: 'idle', cpu_cores: 2, memory_mb: 1024, disk_gb: 5 });
    const busy = await services.vms.create(scope, { name: 'busy', cpu_cores: 2, memory_mb: 1024, disk_gb: 5, start: true });
    expect(await allocated(cp)).toEqual([4, 2048, 10]);
    await services.vms.delete(scope, idle.vm.id, { force: true });
    expect(await allocated(cp)).toEqual([2, 1024, 10]);
    await services.vms.delete(scope, busy.vm.id, { force: true });
    expect(await allocated(cp)).toEqual([2, 1024, 10]);
  });

  it('never overfills a host under concurrent creates: the hosts take what they have room for, the rest hear why', async () => {
    // sim-1 has room for four 1 GB VMs; a second host (no driver: its creates stay queued) for two.
    cp = await startTestControlPlane({ simulator: { capacity: { cpus: 16, memory_mb: 4096, disk_gb: 100 } } });
    const { services, scope, database } = cp;
    await database.sql`
      INSERT INTO hosts (name, driver, cpus, memory_mb, disk_gb, last_seen_at, labels)
      VALUES ('small', 'simulated', 16, 2048, 100, now(), '{"rack": "r1"}')`;
    await database.sql`UPDATE hosts SET labels = '{"rack": "r1"}'`;
    // Placed by the statement that writes them (a shape of it no create before had: labels asked for).
    const labelled = (k: string) => k.includes('reservation(host=false,labels=true');
    expect(keptShapes('insertVmWithOperation').filter(labelled)).toEqual([]);
    const results = await Promise.allSettled(
      Array.from({ length: 24 }, (_, i) =>
        services.vms.create(scope, {
          name: `racer-${i}`,
          cpu_cores: 1,
          memory_mb: 1024,
          disk_gb: 1,
          placement: { host_labels: { rack: 'r1' } },
        }),
      ),
    );
    const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(6);
    for (const r of refused) expect(r.reason).toMatchObject({ code: 'INSUFFICIENT_CAPACITY' });
    // What each host has handed out is what its VMs hold, and within what it has.
    const hosts = await database.sql<{ name: string; memory_mb: number; allocated_memory_mb: number; held: number; vms: number }[]>`
      SELECT h.name, h.memory_mb, h.allocated_memory_mb,
        (SELECT coalesce(sum(memory_mb), 0)::int FROM vms WHERE host_id = h.id) AS held,
        (SELECT count(*)::int FROM vms WHERE host_id = h.id) AS vms
      FROM hosts h ORDER BY h.name`;
    expect(hosts).toEqual([
      { name: 'sim-1', memory_mb: 4096, allocated_memory_mb: 4096, held: 4096, vms: 4 },
      { name: 'small', memory_mb: 2048, allocated_memory_mb: 2048, held: 2048, vms: 2 },
    ]);
    // That statement's text was built once for each way it ran, and kept: alone (the creates
    // that found room), and in a transaction (those that did not, tried again so before being
    // placed first to hear why).
    expect(
      keptShapes('insertVmWithOperation')
        .filter(labelled)
        .map((k) => k.includes('unless-quota')),
    ).toEqual([true, false]);
    // A name taken on full hosts: refused for the room first, as always.
    const taken = results.find((r) => r.status === 'fulfilled')!.value.vm.name;
    await expect(services.vms.create(scope, { name: taken, cpu_cores: 1, memory_mb: 1024, disk_gb: 1 })).rejects.toMatchObject({
      code: 'INSUFFICIENT_CAPACITY',
    });
    // No number was taken by a create that was refused.
    const numbers = await database.sql<{ number: number }[]>`SELECT number FROM vms ORDER BY number`;
    expect(numbers.map((r) => r.number)).toEqual([1, 2, 3, 4, 5, 6]);
  });
});
