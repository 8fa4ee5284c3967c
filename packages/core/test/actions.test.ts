import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { VmActionResult } from '../src/index.js';
import { startTestControlPlane, type TestControlPlane } from '../src/testing/index.js';

// What each action's worker handler does with its options, on the simulated hypervisor
// (actions/*.ts): the paths the lifecycle tests do not take.

let cp: TestControlPlane;
beforeAll(async () => {
  cp = await startTestControlPlane({ worker: { poll_ms: 50 } });
});
afterAll(() => cp?.shutdown());

const small = { cpu_cores: 1, memory_mb: 128, disk_gb: 1 };
const ended = async (r: VmActionResult | Promise<VmActionResult>) => {
  const { operation } = await cp.services.operations.wait(cp.scope, (await r).operation!.id, { timeout_ms: 10_000 });
  return operation;
};
const succeededData = async (vmId: string, opId: string) =>
  (await cp.services.vms.events(cp.scope, vmId)).find((e) => e.operation_id === opId && e.type === 'operation.succeeded');
const running = async (name: string) => {
  const r = await cp.services.vms.create(cp.scope, { name, start: true, ...small });
  expect((await ended(r)).status).toBe('succeeded');
  return r.vm.id;
};

describe('actions', () => {
  it('restart with force power-cycles at once; without, asks the guest', async () => {
    const id = await running('cycled');
    const forced = await ended(cp.services.vms.restart(cp.scope, id, { force: true }));
    expect(forced.status).toBe('succeeded');
    expect((await succeededData(id, forced.id))?.data).toEqual({ forced: true });
    const asked = await ended(cp.services.vms.restart(cp.scope, id));
    expect((await succeededData(id, asked.id))?.data).toEqual({ forced: false });
    expect((await cp.services.vms.get(cp.scope, id)).status).toBe('running');
  });

  it('stop forces a guest that ignores the power button at its timeout_s, and says so', async () => {
    const id = await running('stubborn');
    cp.hypervisor.setIgnoresAcpi(await cp.domainRef(id), true);
    const started = Date.now();
    const op = await ended(cp.services.vms.stop(cp.scope, id, { timeout_s: 1 }));
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    const done = await succeededData(id, op.id);
    expect(done).toMatchObject({ data: { forced: true }, message: 'stop succeeded: forced off at the deadline' });
    expect((await cp.services.vms.get(cp.scope, id)).status).toBe('stopped');
  });

  it('delete keeps the disks when asked, and succeeds when the domain is already gone', async () => {
    const kept = await running('kept-disks');
    const a = await ended(cp.services.vms.delete(cp.scope, kept, { delete_disks: false }));
    expect((await succeededData(kept, a.id))?.data).toEqual({ delete_disks: false });
    const gone = await running('already-gone');
    cp.hypervisor.domains.delete(await cp.domainRef(gone));
    const b = await ended(cp.services.vms.delete(cp.scope, gone));
    expect(b.status).toBe('succeeded');
    expect((await succeededData(gone, b.id))?.data).toEqual({ delete_disks: true });
    expect((await cp.services.vms.get(cp.scope, gone)).status).toBe('deleted');
  });

  it('delete fails on any other driver error', async () => {
    const id = await running('undeletable');
    cp.hypervisor.inject({ method: 'delete_vm', kind: 'fail', message: 'disk busy', times: 1 });
    const op = await ended(cp.services.vms.delete(cp.scope, id));
    expect(op).toMatchObject({ status: 'failed', error: 'disk busy' });
  });

  it('a VM whose domain was never made can only be deleted: other actions say why', async () => {
    const r = await cp.services.vms.create(cp.scope, { name: 'no-domain', ...small });
    await ended(r);
    await cp.database.sql`UPDATE vms SET domain_ref = NULL WHERE id = ${r.vm.id}`;
    const op = await ended(cp.services.vms.start(cp.scope, r.vm.id));
    expect(op).toMatchObject({ status: 'failed', error: 'the VM has no domain on its host (provisioning failed); delete it' });
  });

  it('a hardware change records the console port the driver gives or takes', async () => {
    const r = await cp.services.vms.create(cp.scope, { name: 'console', ...small });
    await ended(r);
    expect((await cp.services.vms.get(cp.scope, r.vm.id)).vnc_port).not.toBeNull();
    await ended(cp.services.vms.update(cp.scope, r.vm.id, { vnc_enabled: false }));
    expect(await cp.services.vms.get(cp.scope, r.vm.id)).toMatchObject({ vnc_enabled: false, vnc_port: null });
    await ended(cp.services.vms.update(cp.scope, r.vm.id, { vnc_enabled: true }));
    expect((await cp.services.vms.get(cp.scope, r.vm.id)).vnc_port).toEqual(expect.any(Number));
  });
});
