import { startTestServer, TEST_ADMIN_PASSWORD, type TestServer } from '@hangar/server/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, ConflictError, NotFoundError, OperationFailedError, TimeoutError, ValidationError, type Vm } from '../src/index.js';

let server: TestServer;
let client: Client;
beforeAll(async () => {
  server = await startTestServer();
  client = new Client({ base_url: server.url, api_key: server.apiKey });
});
afterAll(() => server?.stop());

const small = { cpu_cores: 1, memory_mb: 256, disk_gb: 2 };

describe('SDK against a live server', () => {
  it('reads its settings from the environment, like the hypervisor Client', async () => {
    process.env.HANGAR_URL = server.url;
    process.env.HANGAR_API_KEY = server.apiKey;
    try {
      const me = await new Client().authenticate();
      expect(me).toMatchObject({ username: 'admin', role: 'admin', global_admin: true, via: 'api_key' });
    } finally {
      delete process.env.HANGAR_URL;
      delete process.env.HANGAR_API_KEY;
    }
  });

  it('signs in with a username and password', async () => {
    const c = new Client({ base_url: server.url, username: 'admin', password: TEST_ADMIN_PASSWORD });
    expect(await c.authenticate()).toMatchObject({ username: 'admin', via: 'jwt' });
    expect((await c.listProjects()).map((p) => p.name)).toContain('default');
  });

  it('runs a VM through its whole life', async () => {
    const created = await client.createVm({ name: 'sdk-life', ...small, labels: { app: 'sdk' } });
    expect(created.vm.status).toBe('provisioning');
    expect(created.operation?.action).toBe('create');
    const op = await client.waitForOperation(created.operation!.id, { timeout_ms: 10_000 });
    expect(op.status).toBe('succeeded');
    const id = created.vm.id;

    const started = await client.startVm(id, { wait: true });
    expect(started.vm.status).toBe('running');
    expect(started.operation?.status).toBe('succeeded');
    expect((await client.pauseVm(id, { wait: true })).vm.status).toBe('paused');
    expect((await client.resumeVm(id, { wait: true })).vm.status).toBe('running');
    expect((await client.restartVm(id, { wait: true })).vm.status).toBe('running');
    expect((await client.restartVm(id, { force: true, wait: true })).operation?.input).toMatchObject({ force: true });
    expect((await client.resetVm(id, { wait: true })).vm.status).toBe('running');
    expect((await client.stopVm(id, { timeout_s: 5, wait: true })).vm.status).toBe('stopped');
    await client.startVm(id);
    expect((await client.waitForVm(id, 'running', { timeout_ms: 10_000 })).status).toBe('running');
    expect((await client.forceStopVm(id, { wait: true })).vm.status).toBe('stopped');

    const resized = await client.updateVm(id, { cpu_cores: 2, memory_mb: 512, labels: { app: 'sdk', size: 'm' } }, { wait: true });
    expect(resized.vm).toMatchObject({ cpu_cores: 2, memory_mb: 512, labels: { app: 'sdk', size: 'm' } });

    const events = await client.listEvents(id);
    expect(events[0]?.type).toBe('vm.created');
    expect(events.filter((e) => e.type === 'operation.succeeded').length).toBeGreaterThanOrEqual(10);
    const ops = await client.listOperations({ vm_id: id, limit: 100 });
    expect(ops.operations.length).toBeGreaterThanOrEqual(11);
    // Every list has one shape: awaited, the first page; iterated, every item across pages.
    const walked = await client.listOperations({ vm_id: id, limit: 3 }).toArray();
    expect(walked.map((o) => o.id)).toEqual(ops.operations.map((o) => o.id));
    const pagesOfEvents = await client.listEvents(id, { limit: 2 }).toArray();
    expect(pagesOfEvents.map((e) => e.id)).toEqual((await client.listEvents(id, { limit: 500 })).map((e) => e.id));
    const projects: string[] = [];
    for await (const p of client.listProjects()) projects.push(p.name);
    expect(projects).toEqual((await client.listProjects()).map((p) => p.name));

    const deleted = await client.deleteVm(id, { wait: true });
    expect(deleted.vm).toMatchObject({ status: 'deleted' });
    expect(deleted.vm.deleted_at).not.toBeNull();
    expect((await client.getVm(id)).status).toBe('deleted');
  });

  it('lists by page and walks every page with an async iterator', async () => {
    await Promise.all(Array.from({ length: 7 }, (_, i) => client.createVm({ name: `list-${i}`, ...small, labels: { group: 'list' } })));
    const list = client.listVms({ label: 'group=list', per_page: 3 });
    const first = await list.page();
    expect(first).toMatchObject({ total: 7, page: 1, per_page: 3, total_pages: 3 });
    const all: Vm[] = [];
    for await (const vm of list) all.push(vm);
    expect(all.map((v) => v.name).sort()).toEqual(Array.from({ length: 7 }, (_, i) => `list-${i}`));
    expect((await client.listVms({ search: 'list-', page: 3, per_page: 3 }).page()).vms).toHaveLength(1);
  });

  it('throws typed errors with status, code and request id', async () => {
    const missing = await client.getVm('00000000-0000-4000-8000-000000000000').catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(NotFoundError);
    expect(missing).toMatchObject({ status: 404, code: 'VM_NOT_FOUND' });
    expect((missing as NotFoundError).request_id).toMatch(/[0-9a-f-]{36}/);

    const bad = await client.createVm({ name: 'Not A Label', ...small }).catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(ValidationError);
    expect((bad as ValidationError).fields[0]?.path).toBe('name');

    const { vm } = await client.createVm({ name: 'conflicted', ...small }, { wait: true });
    const conflict = await client.pauseVm(vm.id).catch((e: unknown) => e);
    expect(conflict).toBeInstanceOf(ConflictError);
    expect(conflict).toMatchObject({ status: 409, code: 'INVALID_STATE', vmStatus: 'stopped', retryable: false });
    expect((conflict as ConflictError).allowedActions).toContain('start');
  });

  it('reports a failed operation when asked to wait', async () => {
    const { vm } = await client.createVm({ name: 'doomed', ...small }, { wait: true });
    server.driver.hypervisor.inject({ method: 'start_vm', kind: 'fail', message: 'no capacity left' });
    const err = await client.startVm(vm.id, { wait: true }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OperationFailedError);
    expect((err as OperationFailedError).operation).toMatchObject({ status: 'failed', error: 'no capacity left' });
  });

  it('times out a wait that cannot be met', async () => {
    const { vm } = await client.createVm({ name: 'never-runs', ...small }, { wait: true });
    const err = await client.waitForVm(vm.id, 'running', { timeout_ms: 300 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TimeoutError);
  });

  it('exposes the raw tRPC client', async () => {
    const page = await client.trpc.vms.list.query({ per_page: 1 });
    expect(page.per_page).toBe(1);
    const me = await client.trpc.auth.whoami.query();
    expect(me.username).toBe('admin');
  });

  it('manages API keys, users and projects', async () => {
    const project = await client.createProject('sdk-team');
    const user = await client.createUser({ username: 'sdk-viewer', password: 'long enough pw', role: 'viewer' });
    expect(user.role).toBe('viewer');
    expect((await client.listUsers()).map((u) => u.username)).toEqual(expect.arrayContaining(['admin', 'sdk-viewer']));
    const key = await client.createApiKey({ name: 'for viewer', user_id: user.id });
    expect(key.key).toMatch(/^hgr_/);
    expect(key.api_key.role).toBe('viewer');
    const viewer = new Client({ base_url: server.url, api_key: key.key });
    expect((await viewer.authenticate()).username).toBe('sdk-viewer');
    expect((await client.listApiKeys()).some((k) => k.id === key.api_key.id)).toBe(true);
    await client.revokeApiKey(key.api_key.id);
    await expect(viewer.authenticate()).rejects.toMatchObject({ status: 401 });
    expect((await client.listProjects()).map((p) => p.id)).toContain(project.id);
  });
});
