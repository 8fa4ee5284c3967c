import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../../src/testing.js';

// The provisioning dialect: the earlier service's documented requests, sent as its clients
// wrote them (as curl commands), get the answers it documented; bad input, unknown VMs and
// missing tokens get its FastAPI error shape.

let server: TestServer;

const README_TOKEN = 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ0ZXN0dXNlciJ9.hOROJV-rUAAGWs029hBpc5Unx-7un4g4-TcQxeTS4N4';
const README_ID = '6c7e3b27-7159-4e0a-9e30-3d44284574cd';

const TOKEN_REQUEST = `curl -X 'POST' \\
  'http://127.0.0.1:8000/token' \\
  -H 'accept: application/json' \\
  -H 'Content-Type: application/x-www-form-urlencoded' \\
  -d 'username=testuser&password=testpassword'`;
const TOKEN_ANSWER = `{"access_token":"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ0ZXN0dXNlciJ9.hOROJV-rUAAGWs029hBpc5Unx-7un4g4-TcQxeTS4N4","token_type":"bearer"}`;

const CREATE_REQUEST = `curl -X 'POST' \\
  'http://127.0.0.1:8000/vms' \\
  -H 'accept: application/json' \\
  -H 'Authorization: Bearer eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ0ZXN0dXNlciJ9.hOROJV-rUAAGWs029hBpc5Unx-7un4g4-TcQxeTS4N4' \\
  -H 'Content-Type: application/json' \\
  -d '{
  "name": "test-vm",
  "cpu_cores": 2,
  "memory": 4096,
  "disk_size": 50,
  "public_ip": "192.168.1.1",
  "labels": ["test"]
}'`;
const CREATE_ANSWER = `{"id":"6c7e3b27-7159-4e0a-9e30-3d44284574cd","name":"test-vm","cpu_cores":2,"memory":4096,"disk_size":50,"public_ip":"192.168.1.1","labels":["test"],"status":"created","created_at":"2024-07-27T00:13:14.596945","updated_at":"2024-07-27T00:13:14.596947"}`;

const DELETE_REQUEST = `curl -X 'DELETE' \\
  'http://127.0.0.1:8000/vms/6c7e3b27-7159-4e0a-9e30-3d44284574cd' \\
  -H 'accept: application/json' \\
  -H 'Authorization: Bearer eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ0ZXN0dXNlciJ9.hOROJV-rUAAGWs029hBpc5Unx-7un4g4-TcQxeTS4N4'`;
const DELETE_ANSWER = `{"id":"6c7e3b27-7159-4e0a-9e30-3d44284574cd","name":"test-vm","cpu_cores":2,"memory":4096,"disk_size":50,"public_ip":"192.168.1.1","labels":[],"status":"deleted","created_at":"2024-07-27T00:13:14.596945","updated_at":"2024-07-27T00:13:14.596947"}`;

/** Sends a curl command as curl would (its -X, URL, -H and -d), at this server instead of the one it names. */
function curl(command: string, replace: Record<string, string> = {}): Promise<Response> {
  let text = command.replaceAll('http://127.0.0.1:8000', server.url);
  for (const [from, to] of Object.entries(replace)) text = text.replaceAll(from, to);
  const words = [...text.replace(/\\\n/g, ' ').matchAll(/'([^']*)'|(\S+)/g)].map((m) => m[1] ?? m[2]!);
  expect(words.shift()).toBe('curl');
  let method = 'GET';
  let url = '';
  let body: string | undefined;
  const headers = new Headers();
  while (words.length) {
    const word = words.shift()!;
    if (word === '-X') method = words.shift()!;
    else if (word === '-H') {
      const header = words.shift()!;
      const colon = header.indexOf(':');
      headers.append(header.slice(0, colon), header.slice(colon + 1).trim());
    } else if (word === '-d') body = words.shift()!;
    else url = word;
  }
  return fetch(url, { method, headers, body });
}

/** Each field the earlier answer has, with a value of the same JSON type. */
function expectShapeOf(actual: Record<string, unknown>, documented: string) {
  const kind = (v: unknown) => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);
  const fields = JSON.parse(documented) as Record<string, unknown>;
  expect(Object.fromEntries(Object.keys(fields).map((k) => [k, kind(actual[k])]))).toEqual(
    Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, kind(v)])),
  );
}

const asAdmin = () => ({ authorization: `Bearer ${server.apiKey}`, 'content-type': 'application/json' });
const native = (method: string, path: string, body?: unknown) =>
  fetch(`${server.url}/api/v1${path}`, { method, headers: asAdmin(), body: body === undefined ? undefined : JSON.stringify(body) });
const nativeVm = async (id: string) => (await (await native('GET', `/vms/${id}`)).json()) as Record<string, unknown>;
const vmsNamed = async (name: string) => ((await (await native('GET', `/vms?name=${name}`)).json()) as { total: number }).total;
const vmCount = async () => ((await (await native('GET', '/vms?per_page=1')).json()) as { total: number }).total;

const post = (path: string, body: unknown, token = server.apiKey) =>
  fetch(`${server.url}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });

beforeAll(async () => {
  server = await startTestServer();
  // The earlier service's user, made the native way (an operator may create and delete VMs).
  const user = await native('POST', '/users', { username: 'testuser', password: 'testpassword', role: 'operator' });
  expect(user.status, await user.clone().text()).toBe(201);
}, 60_000);
afterAll(async () => {
  await server?.stop();
});

describe('the provisioning dialect', () => {
  it('answers its documented requests: sign in, create, delete', async () => {
    const signIn = await curl(TOKEN_REQUEST);
    expect(signIn.status, await signIn.clone().text()).toBe(200);
    const token = (await signIn.json()) as Record<string, unknown>;
    expectShapeOf(token, TOKEN_ANSWER);
    expect(token.token_type).toBe('bearer');
    const accessToken = token.access_token as string;

    const created = await curl(CREATE_REQUEST, { [README_TOKEN]: accessToken });
    expect(created.status, await created.clone().text()).toBe(200);
    const vm = (await created.json()) as Record<string, unknown>;
    expectShapeOf(vm, CREATE_ANSWER);
    expect(vm).toMatchObject({
      name: 'test-vm',
      cpu_cores: 2,
      memory: 4096,
      disk_size: 50,
      public_ip: '192.168.1.1',
      labels: ['test'],
      status: 'created',
      number: expect.any(Number),
    });
    expect(vm.id).toMatch(/^[0-9a-f-]{36}$/);
    // What the native API holds: the VM provisioned, in the user's project, in the native names.
    expect(await nativeVm(vm.id as string)).toMatchObject({
      status: 'stopped',
      memory_mb: 4096,
      disk_gb: 50,
      labels: { test: '' },
      public_ip: '192.168.1.1',
    });

    const deleted = await curl(DELETE_REQUEST, { [README_TOKEN]: accessToken, [README_ID]: vm.id as string });
    expect(deleted.status, await deleted.clone().text()).toBe(200);
    const gone = (await deleted.json()) as Record<string, unknown>;
    expectShapeOf(gone, DELETE_ANSWER);
    expect(gone).toMatchObject({ id: vm.id, name: 'test-vm', status: 'deleted', created_at: vm.created_at });
    expect(await nativeVm(vm.id as string)).toMatchObject({ status: 'deleted', deleted_at: expect.any(String) });
  });

  it('takes the native field names and labels as a map, and answers labels as a list', async () => {
    const res = await post('/vms', { name: 'native-names', memory_mb: 1024, disk_gb: 10, labels: { env: 'prod', gpu: '' } });
    expect(res.status, await res.clone().text()).toBe(200);
    const vm = (await res.json()) as { id: string; memory: number; disk_size: number; labels: string[] };
    expect(vm).toMatchObject({ memory: 1024, disk_size: 10 });
    expect([...vm.labels].sort()).toEqual(['env=prod', 'gpu']);
    // A VM is also named by its short number.
    const byNumber = await fetch(`${server.url}/vms/${(await nativeVm(vm.id)).number}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${server.apiKey}` },
    });
    expect(byNumber.status).toBe(200);
    expect(await byNumber.json()).toMatchObject({ id: vm.id, status: 'deleted' });
  });

  it('refuses a bad body with 422 and its fields, under the names sent, and creates nothing', async () => {
    const before = await vmCount();
    const cases: [unknown, string][] = [
      [{ name: 'bad-memory', memory: 'lots' }, 'memory'],
      [{ name: 'bad-disk', disk_size: 0 }, 'disk_size'],
      [{ name: 'Not A DNS Name' }, 'name'],
      [{ name: 'bad-labels', labels: 'test' }, 'labels'],
      [{ name: 'both-memories', memory: 1024, memory_mb: 2048 }, 'memory'],
      [{ name: 'waits-anyway', wait: false }, 'wait'],
      [{ cpu_cores: 2 }, 'name'],
    ];
    for (const [body, field] of cases) {
      const res = await post('/vms', body);
      expect(res.status, JSON.stringify(body)).toBe(422);
      const answer = (await res.json()) as { detail: { loc: string[]; msg: string; type: string }[] };
      expect(answer.detail, JSON.stringify(body)).toContainEqual(
        expect.objectContaining({ loc: ['body', field], msg: expect.any(String), type: expect.any(String) }),
      );
    }
    for (const body of ['{"name": "unknown-field", "colour": "blue"}', '{"name": ', '["test-vm"]']) {
      const res = await post('/vms', body);
      expect(res.status, body).toBe(422);
      expect(Array.isArray(((await res.json()) as { detail: unknown }).detail), body).toBe(true);
    }
    expect(await vmsNamed('unknown-field')).toBe(0);
    expect(await vmCount()).toBe(before);
  });

  it('refuses a request without a valid token with 401, and a wrong password at /token', async () => {
    const before = await vmCount();
    const bare = await fetch(`${server.url}/vms`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"name": "anon"}',
    });
    expect(bare.status).toBe(401);
    expect(await bare.json()).toMatchObject({ detail: expect.any(String) });
    const forged = await post('/vms', { name: 'forged' }, README_TOKEN);
    expect(forged.status).toBe(401);
    expect(await vmCount()).toBe(before);
    const wrong = await curl(TOKEN_REQUEST, { 'password=testpassword': 'password=wrongpassword' });
    expect(wrong.status).toBe(401);
    expect(await wrong.json()).toMatchObject({ detail: expect.any(String) });
    const nothing = await fetch(`${server.url}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'username=testuser',
    });
    expect(nothing.status).toBe(422);
    expect(((await nothing.json()) as { detail: { loc: string[] }[] }).detail).toContainEqual(
      expect.objectContaining({ loc: ['body', 'password'] }),
    );
  });

  it('answers 404 for a VM that does not exist', async () => {
    const unknown = await curl(DELETE_REQUEST, { [README_TOKEN]: server.apiKey });
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ detail: `VM with ID ${README_ID} not found` });
    const byNumber = await fetch(`${server.url}/vms/999`, { method: 'DELETE', headers: { authorization: `Bearer ${server.apiKey}` } });
    expect(byNumber.status).toBe(404);
    expect(await byNumber.json()).toMatchObject({ detail: expect.stringContaining('999') });
  });

  it('refuses to delete a VM while another operation runs on it with 400, and leaves it be', async () => {
    // A slow host keeps the create in flight while the delete comes.
    server.driver.hypervisor.setLatency(1000);
    try {
      const created = await native('POST', '/vms', { name: 'busy' });
      const { vm } = (await created.json()) as { vm: { id: string } };
      const res = await fetch(`${server.url}/vms/${vm.id}`, { method: 'DELETE', headers: { authorization: `Bearer ${server.apiKey}` } });
      expect(res.status, await res.clone().text()).toBe(400);
      expect(await res.json()).toMatchObject({ detail: expect.stringContaining('provisioning') });
      expect(await nativeVm(vm.id)).toMatchObject({ status: 'provisioning', deleted_at: null });
      server.driver.hypervisor.setLatency(0);
      const done = await native('GET', `/vms/${vm.id}/wait?status=stopped&timeout_ms=30000`);
      expect(await done.json()).toMatchObject({ timed_out: false, vm: { status: 'stopped', deleted_at: null } });
    } finally {
      server.driver.hypervisor.setLatency(0);
    }
  });

  it('publishes its OpenAPI document with its paths', async () => {
    const res = await fetch(`${server.url}/openapi/provisioning.json`);
    expect(res.status).toBe(200);
    const doc = (await res.json()) as { paths: Record<string, Record<string, unknown>> };
    expect(Object.keys(doc.paths).sort()).toEqual(['/token', '/vms', '/vms/{vm_id}']);
    expect(Object.keys(doc.paths['/vms']!)).toEqual(['post']);
    expect(Object.keys(doc.paths['/vms/{vm_id}']!)).toEqual(['delete']);
  });
});
