import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../../src/testing.js';

// The lifecycle dialect: the earlier API's documented requests (create, list, get, start, stop,
// delete) answer the flat VM; a wrong-state action is a 400, bad input a 422 that changes
// nothing, an unknown VM a 404, no token a 401. Its list answers where the by-name dialect (which
// also answers GET /vms) is off; with every dialect on, the routes it shares with the
// provisioning dialect answer the same.

/** The earlier API's requests as its documentation gives them; `{vm_id}` is filled in. */
const README = {
  create: { method: 'POST', path: '/vms', body: '{\n  "name": "vm1"\n}' },
  list: { method: 'GET', path: '/vms' },
  get: { method: 'GET', path: '/vms/{vm_id}' },
  start: { method: 'POST', path: '/vms/{vm_id}/start' },
  stop: { method: 'POST', path: '/vms/{vm_id}/stop' },
  delete: { method: 'DELETE', path: '/vms/{vm_id}' },
} as const;
type Request = { method: string; path: string; body?: string };

const FLAT_FIELDS = [
  'cpu_cores',
  'created_at',
  'disk_size',
  'id',
  'labels',
  'memory',
  'name',
  'number',
  'public_ip',
  'status',
  'updated_at',
];
const UNKNOWN_ID = '6c7e3b27-7159-4e0a-9e30-3d44284574cd';

let lifecycleOnly: TestServer;
let every: TestServer;

function client(server: () => TestServer) {
  const send = (req: Request, vmId = '', token: string | null = server().apiKey) =>
    fetch(`${server().url}${req.path.replace('{vm_id}', vmId)}`, {
      method: req.method,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(req.body ? { 'content-type': 'application/json' } : {}) },
      body: req.body,
    });
  const native = async (path: string) =>
    (await (await fetch(`${server().url}/api/v1${path}`, { headers: { authorization: `Bearer ${server().apiKey}` } })).json()) as Record<
      string,
      unknown
    >;
  return { send, native, vmCount: async () => (await native('/vms?per_page=1')).total as number };
}

async function flat(res: Response, status = 200): Promise<Record<string, unknown>> {
  expect(res.status, await res.clone().text()).toBe(status);
  const vm = (await res.json()) as Record<string, unknown>;
  expect(Object.keys(vm).sort()).toEqual(FLAT_FIELDS);
  return vm;
}

async function detail(res: Response, status: number): Promise<unknown> {
  expect(res.status, await res.clone().text()).toBe(status);
  return ((await res.json()) as { detail: unknown }).detail;
}

beforeAll(async () => {
  [lifecycleOnly, every] = await Promise.all([startTestServer({ env: { HANGAR_DIALECTS: 'lifecycle' } }), startTestServer()]);
}, 60_000);
afterAll(async () => {
  await Promise.all([lifecycleOnly?.stop(), every?.stop()]);
});

describe('the lifecycle dialect on its own', () => {
  const { send, native, vmCount } = client(() => lifecycleOnly);

  it('answers its documented requests: create, list, get, start, stop, delete', async () => {
    const vm = await flat(await send(README.create));
    expect(vm).toMatchObject({ name: 'vm1', status: 'created', cpu_cores: 2, memory: 4096, disk_size: 30, labels: [], public_ip: null });
    const id = vm.id as string;
    expect(await native(`/vms/${id}`)).toMatchObject({ status: 'stopped', number: vm.number });

    const list = await send(README.list);
    expect(list.status).toBe(200);
    const vms = (await list.json()) as Record<string, unknown>[];
    expect(vms).toEqual([{ ...vm, status: 'stopped' }]);

    expect(await flat(await send(README.get, id))).toEqual({ ...vm, status: 'stopped' });
    // The short number names the VM too.
    expect(await flat(await send(README.get, String(vm.number)))).toMatchObject({ id });

    expect(await flat(await send(README.start, id))).toMatchObject({ id, status: 'running' });
    expect(await native(`/vms/${id}`)).toMatchObject({ status: 'running' });
    expect(await flat(await send(README.stop, String(vm.number)))).toMatchObject({ id, status: 'stopped' });
    expect(await native(`/vms/${id}`)).toMatchObject({ status: 'stopped' });

    expect(await flat(await send(README.delete, id))).toMatchObject({ id, name: 'vm1', status: 'deleted' });
    expect(await native(`/vms/${id}`)).toMatchObject({ status: 'deleted', deleted_at: expect.any(String) });
    expect(await (await send(README.list)).json()).toEqual([]);
    expect(await flat(await send(README.get, id))).toMatchObject({ id, status: 'deleted' });
  });

  it('refuses an action the VM is not in the state for with 400, and changes nothing', async () => {
    const vm = await flat(await send({ ...README.create, body: '{"name": "twice"}' }));
    const id = vm.id as string;
    const stopped = await native(`/vms/${id}`);
    expect(await detail(await send(README.stop, id), 400)).toBe(`VM ${id} is already stopped`);
    await flat(await send(README.start, id));
    const running = await native(`/vms/${id}`);
    expect(running.version).toBeGreaterThan(stopped.version as number);
    expect(await detail(await send(README.start, id), 400)).toBe(`VM ${id} is already running`);
    expect(await native(`/vms/${id}`)).toEqual(running);
    await flat(await send(README.delete, id));
    expect(await detail(await send(README.start, id), 400)).toMatch(/while it is deleted/);
  });

  it('answers a failed operation with its reason, as an error', async () => {
    const vm = await flat(await send({ ...README.create, body: '{"name": "failing"}' }));
    lifecycleOnly.driver.hypervisor.faults.inject({ method: 'start_vm', kind: 'fail', message: 'no room on the host' });
    expect(await detail(await send(README.start, vm.id as string), 500)).toMatch(/Could not start VM .*: .*no room on the host/);
    expect(await native(`/vms/${vm.id}`)).toMatchObject({ status: 'stopped' });
    await flat(await send(README.delete, vm.id as string));
  });

  it('refuses a bad body with 422 and creates nothing', async () => {
    const before = await vmCount();
    for (const [body, field] of [
      ['{\n  "name": "Not A DNS Name"\n}', 'name'],
      ['{\n  "name": "vm2", "memory": 64\n}', 'memory'],
      ['{}', 'name'],
    ] as const) {
      const refused = (await detail(await send({ ...README.create, body }), 422)) as { loc: string[] }[];
      expect(refused, body).toContainEqual(expect.objectContaining({ loc: ['body', field], msg: expect.any(String) }));
    }
    expect(await detail(await send({ ...README.create, body: '{"name": "vm2", "size": "big"}' }), 422)).toEqual(expect.any(Array));
    expect(await vmCount()).toBe(before);
  });

  it('answers 404 for an unknown VM and 401 without a token', async () => {
    for (const req of [README.get, README.start, README.stop, README.delete]) {
      expect(await detail(await send(req, UNKNOWN_ID), 404)).toBe(`VM with ID ${UNKNOWN_ID} not found`);
      expect(await detail(await send(req, '999'), 404)).toBe('VM with ID 999 not found');
    }
    const before = await vmCount();
    for (const req of Object.values(README)) {
      expect(await detail(await send(req, UNKNOWN_ID, null), 401), req.path).toEqual(expect.any(String));
    }
    expect(await detail(await send(README.create, '', 'hgr_not_a_real_key_000000000000'), 401)).toEqual(expect.any(String));
    expect(await vmCount()).toBe(before);
  });

  it('publishes its OpenAPI document with its paths', async () => {
    const res = await fetch(`${lifecycleOnly.url}/openapi/lifecycle.json`);
    expect(res.status).toBe(200);
    const doc = (await res.json()) as { paths: Record<string, Record<string, unknown>> };
    expect(Object.fromEntries(Object.entries(doc.paths).map(([path, ops]) => [path, Object.keys(ops).sort()]))).toEqual({
      '/vms': ['get', 'post'],
      '/vms/{vm_id}': ['delete', 'get'],
      '/vms/{vm_id}/start': ['post'],
      '/vms/{vm_id}/stop': ['post'],
    });
  });
});

describe('the lifecycle dialect beside every other', () => {
  const { send, native } = client(() => every);

  it('answers the same flat VMs on the routes it shares; GET /vms lists the VM in the first dialect that answers it', async () => {
    const vm = await flat(await send(README.create));
    expect(vm).toMatchObject({ name: 'vm1', status: 'created' });
    const id = vm.id as string;
    const list = await send(README.list);
    expect(list.status).toBe(200);
    expect(await list.json()).toContainEqual(expect.objectContaining({ name: 'vm1' }));
    expect(await flat(await send(README.get, id))).toMatchObject({ id, status: 'stopped' });
    expect(await flat(await send(README.start, id))).toMatchObject({ id, status: 'running' });
    expect(await flat(await send(README.stop, id))).toMatchObject({ id, status: 'stopped' });
    expect(await flat(await send(README.delete, String(vm.number)))).toMatchObject({ id, status: 'deleted' });
    expect(await native(`/vms/${id}`)).toMatchObject({ status: 'deleted' });
  });
});
