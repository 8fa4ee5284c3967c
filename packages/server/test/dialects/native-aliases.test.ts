import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { startTestServer, type TestServer } from '../../src/testing.js';

// The native API takes the earlier APIs' field names as deprecated aliases, so a body copied
// from an old script works against /api/v1 too; the document lists them as deprecated.

let server: TestServer;

const headers = () => ({ authorization: `Bearer ${server.apiKey}`, 'content-type': 'application/json' });
const send = (method: string, path: string, body?: unknown) =>
  fetch(`${server.url}${path}`, { method, headers: headers(), body: body === undefined ? undefined : JSON.stringify(body) });

async function vmCount(): Promise<number> {
  const res = await send('GET', '/api/v1/vms?per_page=1');
  return ((await res.json()) as { total: number }).total;
}

beforeAll(async () => {
  server = await startTestServer();
}, 60_000);
afterAll(async () => {
  await server?.stop();
});

describe('field aliases in the native API', () => {
  it('creates a VM from a body in the older names (memory, disk_size, vcpu_count, network_config, labels as a list)', async () => {
    const res = await send('POST', '/api/v1/vms', {
      name: 'old-names',
      vcpu_count: 1,
      memory: 1024,
      disk_size: 12,
      network_config: { type: 'nat' },
      labels: ['test'],
    });
    expect(res.status, await res.clone().text()).toBe(201);
    const { vm } = (await res.json()) as { vm: Record<string, unknown> };
    expect(vm).toMatchObject({ cpu_cores: 1, memory_mb: 1024, disk_gb: 12, labels: { test: '' }, network: { type: 'nat' } });
    expect(vm).not.toHaveProperty('memory');
  });

  it('takes disk_size_gb as disk_gb, and server_id as host_id (by the host name here)', async () => {
    const hosts = (await (await send('GET', '/api/v1/hosts')).json()) as { hosts?: { name: string }[] } | { name: string }[];
    const list = Array.isArray(hosts) ? hosts : (hosts.hosts ?? []);
    const res = await send('POST', '/api/v1/vms', { name: 'placed', disk_size_gb: 7, server_id: list[0]!.name });
    expect(res.status, await res.clone().text()).toBe(201);
    expect(((await res.json()) as { vm: { disk_gb: number } }).vm.disk_gb).toBe(7);
  });

  it('refuses an alias beside its field with another value, and creates nothing', async () => {
    const before = await vmCount();
    const res = await send('POST', '/api/v1/vms', { name: 'both', memory: 1024, memory_mb: 2048 });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { code: string; detail: string; fields: { path: string }[] };
    expect(body.code).toBe('VALIDATION');
    expect(body.detail).toMatch(/memory is another name for memory_mb/);
    expect(body.fields[0]!.path).toBe('memory');
    const twoAliases = await send('POST', '/api/v1/vms', { name: 'both', disk_size: 10, disk_size_gb: 20 });
    expect(twoAliases.status).toBe(400);
    expect(await vmCount()).toBe(before);
  });

  it('takes an alias beside its field when both say the same', async () => {
    const res = await send('POST', '/api/v1/vms', { name: 'same-twice', memory: 1536, memory_mb: 1536 });
    expect(res.status).toBe(201);
  });

  it('parses an alias by its field schema: a bad value is the field error', async () => {
    const before = await vmCount();
    const res = await send('POST', '/api/v1/vms', { name: 'bad-mem', memory: 'lots' });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { fields: { path: string }[] }).fields.map((f) => f.path)).toContain('memory_mb');
    expect(await vmCount()).toBe(before);
  });

  it('renames with new_name (PUT and PATCH) and resizes with the older names', async () => {
    const created = (await (await send('POST', '/api/v1/vms', { name: 'to-rename', wait: true })).json()) as { vm: { id: string } };
    const id = created.vm.id;
    const put = await send('PUT', `/api/v1/vms/${id}`, { new_name: 'renamed' });
    expect(put.status, await put.clone().text()).toBe(200);
    expect(((await put.json()) as { vm: { name: string } }).vm.name).toBe('renamed');
    const resize = await send('POST', `/api/v1/vms/${id}/resize`, { vcpu_count: 3, memory: 2048, wait: true });
    expect(resize.status, await resize.clone().text()).toBe(200);
    expect(((await resize.json()) as { vm: Record<string, unknown> }).vm).toMatchObject({ cpu_cores: 3, memory_mb: 2048 });
    // An alias of a field the route does not have stays unknown.
    const resizeName = await send('POST', `/api/v1/vms/${id}/resize`, { new_name: 'x' });
    expect(resizeName.status).toBe(400);
  });

  it('documents the aliases as deprecated in the native OpenAPI document', async () => {
    const doc = (await (await fetch(`${server.url}/openapi.json`)).json()) as Record<string, any>;
    const create = doc.paths['/vms'].post.requestBody.content['application/json'].schema;
    expect(create.properties.memory).toMatchObject({ deprecated: true, type: 'integer' });
    expect(create.properties.memory.description).toMatch(/alias of memory_mb/);
    expect(create.properties.memory_mb.deprecated).toBeUndefined();
    const update = doc.paths['/vms/{id}'].put.requestBody.content['application/json'].schema;
    expect(update.properties.new_name).toMatchObject({ deprecated: true });
  });
});

describe('mounting the dialects', () => {
  it('serves each dialect its own OpenAPI document, and 404 for an unknown one', async () => {
    const crud = await fetch(`${server.url}/openapi/crud.json`);
    expect(crud.status).toBe(200);
    const doc = (await crud.json()) as { openapi: string; paths: Record<string, Record<string, any>> };
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.paths['/api/v1/vms/{id}']!.put.requestBody.content['application/json'].schema.properties.new_name.deprecated).toBe(true);
    expect((await fetch(`${server.url}/openapi/nope.json`)).status).toBe(404);
    expect((await fetch(`${server.url}/openapi/crud`)).status).toBe(404);
  });

  it('gives a browser the web console page at /vms, and an API client the dialect', async () => {
    const page = await fetch(`${server.url}/vms`, { headers: { accept: 'text/html,application/xhtml+xml' } });
    expect(page.headers.get('content-type')).toMatch(/text\/html/);
    const api = await fetch(`${server.url}/vms`, { headers: { authorization: `Bearer ${server.apiKey}`, accept: 'application/json' } });
    expect(api.headers.get('content-type')).toMatch(/application\/json/);
  });

  it('reads HANGAR_DIALECTS: all by default, none, a list, and refuses an unknown name', () => {
    const base = { HANGAR_BOOTSTRAP_API_KEY: 'hgr_x_0123456789abcdef0123' };
    expect(loadConfig(base).HANGAR_DIALECTS).toEqual(['by-name', 'provisioning', 'lifecycle', 'api-vms', 'crud']);
    expect(loadConfig({ ...base, HANGAR_DIALECTS: 'none' }).HANGAR_DIALECTS).toEqual([]);
    expect(loadConfig({ ...base, HANGAR_DIALECTS: ' api-vms , lifecycle' }).HANGAR_DIALECTS).toEqual(['lifecycle', 'api-vms']);
    expect(() => loadConfig({ ...base, HANGAR_DIALECTS: 'lifecycle,soap' })).toThrow(/unknown dialect soap/);
  });
});

describe('with the dialects off', () => {
  let bare: TestServer;
  beforeAll(async () => {
    bare = await startTestServer({ env: { HANGAR_DIALECTS: 'none' } });
  }, 60_000);
  afterAll(async () => {
    await bare?.stop();
  });

  it('answers their paths 404 and still serves the native API', async () => {
    const auth = { authorization: `Bearer ${bare.apiKey}`, 'content-type': 'application/json' };
    expect((await fetch(`${bare.url}/api/vms`, { headers: auth })).status).toBe(404);
    expect((await fetch(`${bare.url}/token`, { method: 'POST', headers: auth, body: '{}' })).status).toBe(404);
    expect((await fetch(`${bare.url}/vms`, { method: 'POST', headers: auth, body: '{"name":"x"}' })).status).toBe(404);
    expect((await fetch(`${bare.url}/api/v1/vms`, { headers: auth })).status).toBe(200);
  });
});
