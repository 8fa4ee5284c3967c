import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestControlPlane, type TestControlPlane } from '../src/testing/index.js';

let cp: TestControlPlane;
beforeAll(async () => {
  cp = await startTestControlPlane();
});
afterAll(() => cp?.shutdown());

const settle = async (_vmId: string, opId: string | undefined) => {
  if (opId) {
    const { operation, timed_out } = await cp.services.operations.wait(cp.scope, opId, { timeout_ms: 10_000 });
    expect(timed_out).toBe(false);
    return operation;
  }
  return null;
};

describe('VM lifecycle on the simulated hypervisor', () => {
  it('creates, starts, pauses, resumes, restarts, resets, stops and deletes', async () => {
    const { services, scope } = cp;
    const created = await services.vms.create(scope, { name: 'web-1', cpu_cores: 2, memory_mb: 2048, labels: { env: 'dev' } });
    expect(created.vm.status).toBe('provisioning');
    expect(created.vm.allowed_actions).toEqual(['update_metadata']);
    expect(created.operation?.action).toBe('create');
    expect((await settle(created.vm.id, created.operation?.id))?.status).toBe('succeeded');

    let vm = await services.vms.get(scope, created.vm.id);
    expect(vm.status).toBe('stopped');
    expect(vm.vnc_port).toBeGreaterThanOrEqual(5900);
    expect(vm.network.mac_address).toMatch(/^52:54:00:/);
    expect(vm.allowed_actions).toContain('start');

    for (const [action, expected] of [
      ['start', 'running'],
      ['pause', 'paused'],
      ['resume', 'running'],
      ['restart', 'running'],
      ['reset', 'running'],
      ['stop', 'stopped'],
    ] as const) {
      const r = await services.vms[action](scope, vm.id);
      expect(r.operation, action).not.toBeNull();
      const op = await settle(vm.id, r.operation!.id);
      expect(op?.status, `${action}: ${op?.error}`).toBe('succeeded');
      vm = await services.vms.get(scope, vm.id);
      expect(vm.status, action).toBe(expected);
      const domain = cp.hypervisor.domains.get(cp.hypervisor.domains.keys().next().value!);
      expect(domain?.state).toBe(expected === 'stopped' ? 'shutoff' : expected);
    }

    const del = await services.vms.delete(scope, vm.id, { delete_disks: true });
    expect(del.vm.status).toBe('deleting');
    await settle(vm.id, del.operation!.id);
    vm = await services.vms.get(scope, vm.id);
    expect(vm.status).toBe('deleted');
    expect(vm.deleted_at).not.toBeNull();
    expect(vm.created_at).toBe(created.vm.created_at);
    expect(cp.hypervisor.domains.size).toBe(0);

    const events = await services.vms.events(scope, vm.id);
    const changes = events.filter((e) => e.type === 'vm.status_changed').map((e) => e.to_status);
    expect(changes).toEqual([
      'stopped',
      'starting',
      'running',
      'pausing',
      'paused',
      'resuming',
      'running',
      'restarting',
      'running',
      'restarting',
      'running',
      'stopping',
      'stopped',
      'deleting',
      'deleted',
    ]);
    const ops = await services.operations.list(scope, { vm_id: vm.id, limit: 100 });
    expect(ops.operations.map((o) => o.action).reverse()).toEqual([
      'create',
      'start',
      'pause',
      'resume',
      'restart',
      'reset',
      'stop',
      'delete',
    ]);
    expect(ops.operations.every((o) => o.status === 'succeeded')).toBe(true);
  });

  it('creates a running VM with start: true and waits for it', async () => {
    const { services, scope } = cp;
    const r = await services.vms.create(scope, { name: 'starts-itself', start: true });
    const { vm, timed_out } = await services.vms.wait(scope, r.vm.id, 'running', { timeout_ms: 10_000 });
    expect(timed_out).toBe(false);
    expect(vm.status).toBe('running');
  });

  it('answers a repeated action with the operation in flight, and a satisfied one with no operation', async () => {
    const { services, scope } = cp;
    cp.hypervisor.setLatency(300);
    try {
      const r = await services.vms.create(scope, { name: 'repeat' });
      await settle(r.vm.id, r.operation!.id);
      const first = await services.vms.start(scope, r.vm.id);
      const again = await services.vms.start(scope, r.vm.id);
      expect(again.operation?.id).toBe(first.operation!.id);
      await settle(r.vm.id, first.operation!.id);
      const noop = await services.vms.start(scope, r.vm.id);
      expect(noop.operation).toBeNull();
      expect(noop.vm.status).toBe('running');
    } finally {
      cp.hypervisor.setLatency(0);
    }
  });

  it('changes hardware only while stopped, through an operation', async () => {
    const { services, scope } = cp;
    const r = await services.vms.create(scope, { name: 'resize-me', cpu_cores: 1, memory_mb: 512, disk_gb: 10, start: true });
    await settle(r.vm.id, r.operation!.id);
    await expect(services.vms.update(scope, r.vm.id, { cpu_cores: 4 })).rejects.toMatchObject({
      code: 'INVALID_STATE',
      details: { status: 'running' },
    });
    // Metadata changes while running.
    const renamed = await services.vms.update(scope, r.vm.id, { labels: { tier: 'db' }, os_version: 'Debian 12' });
    expect(renamed.operation).toBeNull();
    expect(renamed.vm.labels).toEqual({ tier: 'db' });

    await settle(r.vm.id, (await services.vms.stop(scope, r.vm.id)).operation!.id);
    const up = await services.vms.update(scope, r.vm.id, { cpu_cores: 4, memory_mb: 1024, disk_gb: 20 });
    expect(up.vm.status).toBe('updating');
    expect(up.vm.cpu_cores).toBe(1);
    await settle(r.vm.id, up.operation!.id);
    const vm = await services.vms.get(scope, r.vm.id);
    expect(vm).toMatchObject({ status: 'stopped', cpu_cores: 4, memory_mb: 1024, disk_gb: 20 });
    const domain = cp.hypervisor.domains.get(await cp.domainRef(vm.id));
    expect(domain?.spec).toMatchObject({ cpu_cores: 4, memory_mb: 1024, disk_gb: 20 });

    await expect(services.vms.update(scope, r.vm.id, { disk_gb: 5 })).rejects.toMatchObject({ code: 'VALIDATION' });
  });

  it('keeps host allocations in step with VMs', async () => {
    const { services, scope } = cp;
    const before = (await services.hosts.list())[0]!.allocated;
    const r = await services.vms.create(scope, { name: 'alloc', cpu_cores: 3, memory_mb: 1536, disk_gb: 7 });
    await settle(r.vm.id, r.operation!.id);
    expect((await services.hosts.list())[0]!.allocated).toEqual({
      cpus: before.cpus + 3,
      memory_mb: before.memory_mb + 1536,
      disk_gb: before.disk_gb + 7,
    });
    await settle(r.vm.id, (await services.vms.delete(scope, r.vm.id)).operation!.id);
    expect((await services.hosts.list())[0]!.allocated).toEqual(before);
  });
});
