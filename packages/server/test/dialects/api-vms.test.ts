import type { VmActionResult } from '@hangar/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { diskPaths, pythonList } from '../../src/dialects/api-vms/disk-paths.js';
import { outcomeOf } from '../../src/dialects/operation-outcome.js';
import { startTestServer, type TestServer } from '../../src/testing.js';

// The VM lifecycle API at /api/vms: each request its documentation shows, sent as written
// (plus the bearer token Hangar requires), gets the documented answer's status and shape; bad
// input, wrong states, unknown VMs and refused callers get its FastAPI error shape and change
// nothing.

let server: TestServer;
const keys = { viewer: '', operator: '' };

// The documented requests, verbatim.
const LIST = 'GET /api/vms?page=1&per_page=20&status=running&search=web-server';
const GET = 'GET /api/vms/1';
const CREATE = `POST /api/vms
Content-Type: application/json

{
  "name": "my-new-vm",
  "server_id": 1,
  "cpu_cores": 2,
  "memory_mb": 2048,
  "disk_gb": 20.0,
  "os_type": "linux",
  "os_version": "Ubuntu 22.04",
  "network_config": {
    "type": "nat"
  }
}`;
const UPDATE = `PUT /api/vms/1
Content-Type: application/json

{
  "name": "renamed-vm",
  "cpu_cores": 4,
  "memory_mb": 4096
}`;
const DELETE = 'DELETE /api/vms/1?delete_disks=true';
const START = 'POST /api/vms/1/start';
const STOP = 'POST /api/vms/1/stop';
const FORCE_STOP = 'POST /api/vms/1/force-stop';
const RESTART = 'POST /api/vms/1/restart?force=false';
const RESET = 'POST /api/vms/1/reset';
const GET_CONFIG = 'GET /api/vms/1/config';
const PUT_CONFIG = `PUT /api/vms/1/config
Content-Type: application/json

{
  "cpu_cores": 4,
  "memory_mb": 4096,
  "vnc_enabled": true
}`;
const RESIZE = `POST /api/vms/1/resize
Content-Type: application/json

{
  "cpu_cores": 4,
  "memory_mb": 8192,
  "disk_gb": 40.0
}`;

/** Sends a request written as HTTP (request line, headers, blank line, body) with `key` as its bearer token (none for null). */
function http(text: string, key: string | null = server.apiKey): Promise<Response> {
  const [head, ...rest] = text.split('\n\n');
  const [requestLine, ...headerLines] = head!.split('\n');
  const [method, target] = requestLine!.split(' ');
  const headers = new Headers(headerLines.map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1).trim()] as [string, string]));
  if (key !== null) headers.set('authorization', `Bearer ${key}`);
  const body = rest.length ? rest.join('\n\n') : undefined;
  return fetch(`${server.url}${target}`, { method, headers, body });
}

const json = (method: string, path: string, body?: unknown, key: string | null = server.apiKey) =>
  http(`${method} ${path}${body === undefined ? '' : `\nContent-Type: application/json\n\n${JSON.stringify(body)}`}`, key);

async function expectStatus(res: Response, status: number): Promise<Record<string, unknown>> {
  const text = await res.text();
  expect(res.status, text).toBe(status);
  return JSON.parse(text) as Record<string, unknown>;
}

/** The VMs as the native API holds them (deleted ones too): what a refused request must leave alone. */
async function nativeVms(): Promise<unknown[]> {
  const page = await expectStatus(await json('GET', '/api/v1/vms?per_page=100&include_deleted=true'), 200);
  return page.vms as unknown[];
}

async function keyFor(username: string, role: string): Promise<string> {
  const user = await expectStatus(await json('POST', '/api/v1/users', { username, role }), 201);
  return (await expectStatus(await json('POST', '/api/v1/api-keys', { name: username, user_id: user.id }), 201)).key as string;
}

const VM_SHAPE = {
  id: expect.any(Number),
  name: expect.any(String),
  uuid: expect.stringMatching(/^[0-9a-f-]{36}$/),
  status: expect.any(String),
  server: { id: expect.toBeOneOf([expect.any(Number), null]), hostname: expect.toBeOneOf([expect.any(String), null]) },
  resources: { cpu_cores: expect.any(Number), memory_mb: expect.any(Number), disk_gb: expect.any(Number) },
  network: {
    ip_address: expect.toBeOneOf([expect.any(String), null]),
    mac_address: expect.toBeOneOf([expect.any(String), null]),
  },
  os_type: expect.any(String),
  os_version: expect.toBeOneOf([expect.any(String), null]),
  vnc_port: expect.toBeOneOf([expect.any(Number), null]),
  created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
  updated_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
};

beforeAll(async () => {
  server = await startTestServer();
  keys.viewer = await keyFor('onlooker', 'viewer');
  keys.operator = await keyFor('handson', 'operator');
}, 60_000);
afterAll(async () => {
  await server?.stop();
});

describe('the documented requests', () => {
  let hostName = '';

  it('has the simulated host as host number 1', async () => {
    const res = await json('GET', '/api/v1/hosts');
    const hosts = (await expectStatus(res, 200)) as unknown as { number: number; name: string }[];
    expect(hosts[0]!.number).toBe(1);
    hostName = hosts[0]!.name;
  });

  it('creates a VM on server 1 (201, the VM object, stopped once provisioned)', async () => {
    const vm = await expectStatus(await http(CREATE), 201);
    expect(vm).toStrictEqual(VM_SHAPE);
    expect(vm).toMatchObject({
      id: 1,
      name: 'my-new-vm',
      status: 'stopped',
      server: { id: 1, hostname: hostName },
      resources: { cpu_cores: 2, memory_mb: 2048, disk_gb: 20 },
      os_type: 'linux',
      os_version: 'Ubuntu 22.04',
    });
  });

  it('lists running VMs named like web-server, paged', async () => {
    const web = await expectStatus(
      await json('POST', '/api/vms', { name: 'web-server-01', cpu_cores: 1, memory_mb: 512, disk_gb: 5 }),
      201,
    );
    const empty = await expectStatus(await http(LIST), 200);
    expect(empty).toStrictEqual({ vms: [], total: 0, page: 1, per_page: 20, total_pages: 0 });
    await expectStatus(await json('POST', `/api/vms/${web.id}/start`), 200);
    const page = await expectStatus(await http(LIST), 200);
    expect(page).toStrictEqual({ vms: [VM_SHAPE], total: 1, page: 1, per_page: 20, total_pages: 1 });
    expect((page.vms as Record<string, unknown>[])[0]).toMatchObject({ id: web.id, name: 'web-server-01', status: 'running' });
    // The other filters of the list, by their documented names.
    const onServer = await expectStatus(await json('GET', '/api/vms?server_id=1&os_type=linux'), 200);
    expect(onServer.total).toBe(2);
    expect(await expectStatus(await json('GET', '/api/vms?server_id=999'), 200)).toMatchObject({ vms: [], total: 0 });
  });

  it('gets VM 1', async () => {
    const vm = await expectStatus(await http(GET), 200);
    expect(vm).toStrictEqual(VM_SHAPE);
    expect(vm).toMatchObject({ id: 1, name: 'my-new-vm', server: { id: 1, hostname: hostName } });
  });

  it('updates VM 1: renamed, more CPU and memory', async () => {
    const vm = await expectStatus(await http(UPDATE), 200);
    expect(vm).toStrictEqual(VM_SHAPE);
    expect(vm).toMatchObject({ id: 1, name: 'renamed-vm', resources: { cpu_cores: 4, memory_mb: 4096, disk_gb: 20 } });
  });

  it('shows and changes the configuration of VM 1', async () => {
    const config = await expectStatus(await http(GET_CONFIG), 200);
    const CONFIG_SHAPE = {
      id: 1,
      name: 'renamed-vm',
      uuid: expect.stringMatching(/^[0-9a-f-]{36}$/),
      cpu_cores: 4,
      memory_mb: 4096,
      disk_gb: 20,
      os_type: 'linux',
      os_version: 'Ubuntu 22.04',
      vnc_enabled: true,
      vnc_port: expect.toBeOneOf([expect.any(Number), null]),
      network_config: { type: 'nat', bridge_name: null },
      xml_config: expect.toBeOneOf([expect.any(String), null]),
    };
    expect(config).toStrictEqual(CONFIG_SHAPE);
    await expectStatus(await json('PUT', '/api/vms/1/config', { vnc_enabled: false }), 200);
    expect(await expectStatus(await http(PUT_CONFIG), 200)).toStrictEqual(CONFIG_SHAPE);
  });

  it('resizes the stopped VM 1', async () => {
    const answer = await expectStatus(await http(RESIZE), 200);
    expect(answer).toStrictEqual({
      id: 1,
      name: 'renamed-vm',
      operation: 'resize',
      status: 'success',
      message: 'VM resized successfully',
      details: { name: 'renamed-vm', status: 'resized', cpu_cores: 4, memory_mb: 8192, disk_gb: 40 },
    });
  });

  it('starts, restarts, resets, stops and force-stops VM 1, each answered once done', async () => {
    const done = (operation: string, past: string) => ({
      id: 1,
      name: 'renamed-vm',
      operation,
      status: 'success',
      message: `VM ${past} successfully`,
      details: { name: 'renamed-vm', status: past },
    });
    expect(await expectStatus(await http(START), 200)).toStrictEqual(done('start', 'started'));
    expect((await expectStatus(await http(GET), 200)).status).toBe('running');
    expect(await expectStatus(await http(RESTART), 200)).toStrictEqual(done('restart', 'restarted'));
    expect(await expectStatus(await http(RESET), 200)).toStrictEqual(done('reset', 'reset'));
    expect(await expectStatus(await http(STOP), 200)).toStrictEqual(done('stop', 'stopped'));
    expect((await expectStatus(await http(GET), 200)).status).toBe('stopped');
    await expectStatus(await http(START), 200);
    expect(await expectStatus(await http(FORCE_STOP), 200)).toStrictEqual(done('force-stop', 'force-stopped'));
    expect((await expectStatus(await http(GET), 200)).status).toBe('stopped');
  });

  it('deletes VM 1 with its disks; it is then not found', async () => {
    const answer = await expectStatus(await http(DELETE), 200);
    // The simulated host keeps no domain XML: the disks are deleted, their paths unknown.
    expect(answer).toStrictEqual({ message: "VM 'renamed-vm' deleted successfully", detail: "Deleted the VM's disks" });
    expect(await expectStatus(await http(GET), 404)).toMatchObject({ detail: 'VM with ID 1 not found' });
    expect(await expectStatus(await http(START), 404)).toMatchObject({ detail: 'VM with ID 1 not found' });
    const native = await expectStatus(await json('GET', '/api/v1/vms?per_page=100&include_deleted=true&status=deleted'), 200);
    expect((native.vms as { name: string }[]).map((v) => v.name)).toContain('renamed-vm');
  });
});

describe('refusals', () => {
  let vm: Record<string, unknown>;

  beforeAll(async () => {
    vm = await expectStatus(await json('POST', '/api/vms', { name: 'steady', cpu_cores: 1, memory_mb: 512, disk_gb: 5 }), 201);
  });

  it('answers 401 "Could not validate credentials" without a token or with a bad one', async () => {
    expect(await expectStatus(await http(LIST, null), 401)).toMatchObject({ detail: 'Could not validate credentials' });
    expect(await expectStatus(await http(CREATE, 'hgr_not_a_real_key_000000000000'), 401)).toMatchObject({
      detail: 'Could not validate credentials',
    });
    // Before the input is judged, as the earlier API's auth dependency ran first.
    expect(await expectStatus(await json('GET', '/api/vms?per_page=101', undefined, null), 401)).toMatchObject({
      detail: 'Could not validate credentials',
    });
  });

  it('answers 403 "Not enough permissions" to a viewer changing anything, and lets it read', async () => {
    const before = await nativeVms();
    expect(await expectStatus(await http(CREATE, keys.viewer), 403)).toMatchObject({ detail: 'Not enough permissions' });
    expect(await expectStatus(await json('POST', '/api/vms', { name: 'Not Valid' }, keys.viewer), 403)).toMatchObject({
      detail: 'Not enough permissions',
    });
    expect(await expectStatus(await json('POST', `/api/vms/${vm.id}/start`, undefined, keys.viewer), 403)).toMatchObject({
      detail: 'Not enough permissions',
    });
    expect(await expectStatus(await json('DELETE', `/api/vms/${vm.id}`, undefined, keys.viewer), 403)).toMatchObject({
      detail: 'Not enough permissions',
    });
    expect(await nativeVms()).toStrictEqual(before);
    const seen = await expectStatus(await json('GET', `/api/vms/${vm.id}`, undefined, keys.viewer), 200);
    // Hosts are for global admins: others see the VM without them.
    expect(seen).toMatchObject({ id: vm.id, server: { id: null, hostname: null } });
  });

  it('lets an operator create, but not choose the server (global admins only)', async () => {
    const before = await nativeVms();
    expect(await expectStatus(await http(CREATE, keys.operator), 403)).toMatchObject({ detail: 'Not enough permissions' });
    expect(await nativeVms()).toStrictEqual(before);
    const made = await expectStatus(await json('POST', '/api/vms', { name: 'unplaced', memory_mb: 512, disk_gb: 5 }, keys.operator), 201);
    expect(made).toMatchObject({ name: 'unplaced', status: 'stopped', server: { id: null, hostname: null } });
  });

  it('answers 404 "VM with ID 999 not found"', async () => {
    expect(await expectStatus(await json('GET', '/api/vms/999'), 404)).toMatchObject({ detail: 'VM with ID 999 not found' });
    expect(await expectStatus(await json('POST', '/api/vms/999/stop'), 404)).toMatchObject({ detail: 'VM with ID 999 not found' });
    expect(await expectStatus(await json('GET', '/api/vms/999/config'), 404)).toMatchObject({ detail: 'VM with ID 999 not found' });
  });

  it('answers 422 with FastAPI detail lists for refused parameters and bodies, changing nothing', async () => {
    const before = await nativeVms();
    const perPage = await expectStatus(await json('GET', '/api/vms?per_page=101'), 422);
    expect(perPage.detail).toEqual([{ loc: ['query', 'per_page'], msg: expect.any(String), type: 'value_error' }]);
    for (const query of ['page=0', 'status=sleeping', 'server_id=abc', 'os_type=beos', 'colour=red']) {
      expect((await json('GET', `/api/vms?${query}`)).status, query).toBe(422);
    }
    const body = await expectStatus(await json('POST', '/api/vms', { name: 'Bad Name', memory_mb: 1, disk_gb: 20.5 }), 422);
    expect((body.detail as { loc: string[] }[]).map((d) => d.loc)).toEqual(
      expect.arrayContaining([
        ['body', 'name'],
        ['body', 'memory_mb'],
        ['body', 'disk_gb'],
      ]),
    );
    expect((await json('POST', '/api/vms', { name: 'typo', memroy_mb: 2048 })).status).toBe(422);
    expect((await json('POST', '/api/vms', { cpu_cores: 2 })).status).toBe(422);
    expect((await http('POST /api/vms\nContent-Type: application/json\n\n{"name": ')).status).toBe(422);
    // A host that does not exist is the body's server_id.
    // A name in use is a refusal of the body too (400, as the API documented its refusals).
    expect(await expectStatus(await json('POST', '/api/vms', { name: 'steady' }), 400)).toMatchObject({
      detail: "A VM named 'steady' already exists in this project",
    });
    const noHost = await expectStatus(await json('POST', '/api/vms', { name: 'nowhere', server_id: 999 }), 422);
    expect(noHost.detail).toEqual([expect.objectContaining({ loc: ['body', 'server_id'] })]);
    expect((await json('PUT', `/api/vms/${vm.id}`, {})).status).toBe(422);
    expect((await json('PUT', `/api/vms/${vm.id}`, { cpu_cores: 0 })).status).toBe(422);
    expect((await json('PUT', `/api/vms/${vm.id}/config`, { name: 'not-config' })).status).toBe(422);
    expect((await json('POST', `/api/vms/${vm.id}/resize`, { disk_gb: -1 })).status).toBe(422);
    expect((await json('POST', `/api/vms/${vm.id}/restart?force=maybe`)).status).toBe(422);
    expect((await json('DELETE', `/api/vms/${vm.id}?delete_disks=sure`)).status).toBe(422);
    expect(await nativeVms()).toStrictEqual(before);
  });

  it('answers 400 for an action the state does not allow, and leaves the VM as it was', async () => {
    await expectStatus(await json('POST', `/api/vms/${vm.id}/start`), 200);
    const before = await nativeVms();
    const resize = await expectStatus(
      await json('POST', `/api/vms/${vm.id}/resize`, { cpu_cores: 4, memory_mb: 8192, disk_gb: 40.0 }),
      400,
    );
    expect(resize).toMatchObject({ detail: 'VM must be stopped before resizing' });
    expect((await json('PUT', `/api/vms/${vm.id}/config`, { cpu_cores: 2 })).status).toBe(400);
    await expectStatus(await json('POST', `/api/vms/${vm.id}/force-stop`), 200);
    const after = await nativeVms();
    const restart = await expectStatus(await json('POST', `/api/vms/${vm.id}/restart`), 400);
    expect(restart.detail).toEqual(expect.stringMatching(/restart/));
    expect(await nativeVms()).toStrictEqual(after);
    expect((before.find((v) => (v as { id: string }).id === vm.uuid) as { cpu_cores: number }).cpu_cores).toBe(1);
  });

  it('answers 500 "Failed to start VM: <reason>" when the host fails the operation', async () => {
    server.driver.hypervisor.faults.inject({ method: 'start_vm', kind: 'fail', message: 'no bootable device' });
    const failed = await expectStatus(await json('POST', `/api/vms/${vm.id}/start`), 500);
    expect(failed).toMatchObject({ detail: 'Failed to start VM: no bootable device' });
  });
});

describe('the OpenAPI document', () => {
  it('lists every path of the API with its methods', async () => {
    const doc = await expectStatus(await fetch(`${server.url}/openapi/api-vms.json`), 200);
    const paths = doc.paths as Record<string, Record<string, unknown>>;
    expect(Object.fromEntries(Object.entries(paths).map(([p, ops]) => [p, Object.keys(ops).sort()]))).toStrictEqual({
      '/api/vms': ['get', 'post'],
      '/api/vms/{vm_id}': ['delete', 'get', 'put'],
      '/api/vms/{vm_id}/start': ['post'],
      '/api/vms/{vm_id}/stop': ['post'],
      '/api/vms/{vm_id}/force-stop': ['post'],
      '/api/vms/{vm_id}/restart': ['post'],
      '/api/vms/{vm_id}/reset': ['post'],
      '/api/vms/{vm_id}/resize': ['post'],
      '/api/vms/{vm_id}/config': ['get', 'put'],
    });
    const list = paths['/api/vms']!.get as { parameters: { name: string }[] };
    expect(list.parameters.map((p) => p.name)).toEqual(['page', 'per_page', 'status', 'server_id', 'os_type', 'search']);
  });
});

describe('disk paths from the domain XML', () => {
  it("reads the disks' files, not the CD-ROM's", () => {
    const xml = `<domain type='kvm'><devices>
      <disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='/var/lib/hangar/disks/a&amp;b.qcow2'/><target dev='vda'/></disk>
      <disk type="file" device="cdrom"><source file="/var/lib/hangar/images/boot.iso"/></disk>
      <disk type='block' device='disk'><source dev='/dev/vg0/data'/></disk>
    </devices></domain>`;
    expect(diskPaths(xml)).toEqual(['/var/lib/hangar/disks/a&b.qcow2', '/dev/vg0/data']);
    expect(pythonList(diskPaths(xml))).toBe("['/var/lib/hangar/disks/a&b.qcow2', '/dev/vg0/data']");
    expect(pythonList([])).toBe('[]');
    expect(pythonList(["it's"])).toBe("['it\\'s']");
  });
});

describe('how a waited-for operation ended', () => {
  const ended = (operation: Partial<NonNullable<VmActionResult['operation']>> | null) =>
    outcomeOf({ vm: {}, operation: operation && { id: 'op-1', error: null, ...operation } } as VmActionResult);

  it('is done when it succeeded or there was nothing to do, pending while it runs, failed with its reason', () => {
    expect(ended(null)).toEqual({ kind: 'done' });
    expect(ended({ status: 'succeeded' })).toEqual({ kind: 'done' });
    // Still running at the timeout: answered 202 with the operation to follow.
    expect(ended({ status: 'running' })).toEqual({ kind: 'pending', operation_id: 'op-1' });
    expect(ended({ status: 'pending' })).toEqual({ kind: 'pending', operation_id: 'op-1' });
    expect(ended({ status: 'failed', error: 'disk full' })).toEqual({ kind: 'failed', reason: 'disk full', operation_id: 'op-1' });
    expect(ended({ status: 'cancelled' })).toEqual({ kind: 'failed', reason: 'the operation was cancelled', operation_id: 'op-1' });
  });
});
