import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../../src/testing.js';

// How the dialects' paths name a VM (id, short number or name), and which dialect a shared
// request on /vms belongs to, across every dialect at once.

let server: TestServer;

const headers = () => ({ authorization: `Bearer ${server.apiKey}`, 'content-type': 'application/json' });
const send = (method: string, path: string, body?: unknown) =>
  fetch(`${server.url}${path}`, { method, headers: headers(), body: body === undefined ? undefined : JSON.stringify(body) });

interface NativeVm {
  id: string;
  number: number;
  name: string;
}
async function create(name: string): Promise<NativeVm> {
  const res = await send('POST', '/api/v1/vms', { name, wait: true });
  expect(res.status, await res.clone().text()).toBe(201);
  return ((await res.json()) as { vm: NativeVm }).vm;
}

beforeAll(async () => {
  server = await startTestServer();
}, 60_000);
afterAll(async () => {
  await server?.stop();
});

describe('naming a VM in a dialect path', () => {
  it('refuses digits that are one VM number and another VM name, rather than guess', async () => {
    const first = await create('first');
    // A VM whose name is the next number to be given: once that number exists, the digits are ambiguous.
    const digits = String(first.number + 2);
    const named = await create(digits);
    // Only the name matches so far.
    const before = await send('GET', `/vms/${digits}`);
    expect(before.status).toBe(200);
    expect(((await before.json()) as { id: string }).id).toBe(named.id);
    const numbered = await create('numbered');
    expect(String(numbered.number)).toBe(digits);
    // 409 as the native API refuses a clash; the /api/vms API answered every refusal of this kind 400.
    for (const [path, status] of [
      [`/vms/${digits}`, 409],
      [`/api/vms/${digits}`, 400],
    ] as const) {
      const res = await send('GET', path);
      expect(res.status, path).toBe(status);
      expect(((await res.json()) as { detail: string }).detail).toMatch(/both VM number .* and the name of another VM/);
    }
    // Nothing was acted on: both still exist.
    const del = await send('DELETE', `/vms/${digits}`);
    expect(del.status).toBe(409);
    expect((await send('GET', `/api/v1/vms/${named.id}`)).status).toBe(200);
    const still = (await (await send('GET', `/api/v1/vms/${numbered.id}`)).json()) as { deleted_at: string | null };
    expect(still.deleted_at).toBeNull();
    // Once the numbered one is deleted, the digits are the live VM's name again.
    expect((await send('DELETE', `/api/v1/vms/${numbered.id}?wait=true`)).status).toBe(200);
    const after = await send('GET', `/api/vms/${digits}`);
    expect(after.status).toBe(200);
    expect(((await after.json()) as { uuid: string }).uuid).toBe(named.id);
  });

  it('answers 404, not a validation error, for digits beyond a number', async () => {
    for (const path of ['/vms/9999999999', '/api/vms/2147483648', '/vms/2147483648/modify']) {
      const res = await send(path.endsWith('modify') ? 'POST' : 'GET', path, path.endsWith('modify') ? { memory_mb: 1024 } : undefined);
      expect(res.status, path).toBe(404);
    }
  });

  it('does not act on a deleted VM named by its number: it is not found', async () => {
    const vm = await create('short-lived');
    expect((await send('DELETE', `/api/v1/vms/${vm.id}?wait=true`)).status).toBe(200);
    const modify = await send('POST', `/vms/${vm.number}/modify`, { memory_mb: 2048 });
    expect(modify.status).toBe(404);
    expect(await modify.json()).toHaveProperty('error');
    expect((await send('GET', `/api/vms/${vm.number}`)).status).toBe(404);
  });
});

describe('which dialect a POST /vms belongs to', () => {
  it('is the id-addressed create when the body mixes in their fields with disk_size_gb (an alias there)', async () => {
    const res = await send('POST', '/vms', { name: 'mixed', cpu_cores: 1, memory: 512, disk_size_gb: 3 });
    expect(res.status, await res.clone().text()).toBe(200);
    expect(await res.json()).toMatchObject({ name: 'mixed', status: 'created', memory: 512, disk_size: 3 });
  });

  it("is by-name's when only its own fields are there, and it says iso_url is missing", async () => {
    const res = await send('POST', '/vms', { name: 'no-iso', disk_size_gb: 3, vcpu_count: 1 });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toMatch(/iso_url/);
  });
});

describe('paths that are neither a page nor a route', () => {
  it('answers a GET on an action path 404, not the web console page', async () => {
    const res = await fetch(`${server.url}/vms/first/start`);
    expect(res.status).toBe(404);
    expect(res.headers.get('content-type')).toContain('application/json');
  });
});

describe('a server with some dialects off', () => {
  let some: TestServer;
  beforeAll(async () => {
    some = await startTestServer({ env: { HANGAR_DIALECTS: 'api-vms' } });
  }, 60_000);
  afterAll(async () => {
    await some?.stop();
  });

  it('serves the OpenAPI documents of the dialects it speaks only', async () => {
    expect((await fetch(`${some.url}/openapi/api-vms.json`)).status).toBe(200);
    expect((await fetch(`${some.url}/openapi/by-name.json`)).status).toBe(404);
  });
});
