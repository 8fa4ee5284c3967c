import { gunzipSync } from 'node:zlib';
import type { Vm } from '@hangar/core';
import { serveFiles } from '@hangar/core/testing';
import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { byName } from '../../src/dialects/by-name.js';
import type { DialectMethod } from '../../src/dialects/dialect.js';
import type { NativeCalls } from '../../src/dialects/native-calls.js';
import { readBody } from '../../src/http/read-body.js';
import type { AppEnv } from '../../src/http/request-context.js';
import { startTestServer, type TestServer } from '../../src/testing.js';

// The earlier Flask + libvirt API (VMs by name) against a real server, worker and database:
// each request its README shows, sent as it shows it (a local ISO, and a bearer token), and
// the answers checked against what it promised; then what goes wrong.

const ISO = Buffer.alloc(256 * 1024, 7);

let server: TestServer;
let files: Awaited<ReturnType<typeof serveFiles>>;

const auth = () => ({ authorization: `Bearer ${server.apiKey}` });
const asJson = () => ({ ...auth(), 'content-type': 'application/json' });

interface Answer {
  status: number;
  headers: Headers;
  body: any;
}

async function send(method: string, path: string, body?: string | FormData, headers: Record<string, string> = asJson()): Promise<Answer> {
  const res = await fetch(`${server.url}${path}`, { method, headers, body });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {}
  return { status: res.status, headers: res.headers, body: parsed };
}

/** The VM of this name as the native API shows it (undefined once there is none). */
async function nativeVm(name: string): Promise<Vm | undefined> {
  const res = await send('GET', `/api/v1/vms?name=${name}`, undefined, auth());
  expect(res.status).toBe(200);
  return res.body.vms[0];
}
const statusOf = async (name: string) => (await nativeVm(name))?.status;

/** Every VM ever made in the project, deleted ones too: "nothing created" is this unchanged. */
async function vmCount(): Promise<number> {
  return (await send('GET', '/api/v1/vms?include_deleted=true', undefined, auth())).body.total;
}

async function listed(): Promise<{ id: number; name: string; state: number; uuid: string; status: string }[]> {
  const res = await send('GET', '/vms', undefined, auth());
  expect(res.status).toBe(200);
  return res.body;
}

const expectFlaskError = (res: Answer, status: number, error?: string | RegExp) => {
  expect(res.status, JSON.stringify(res.body)).toBe(status);
  expect(res.body).toMatchObject({ error: expect.any(String), code: expect.any(String), request_id: expect.any(String) });
  expect(res.body).not.toHaveProperty('detail');
  if (typeof error === 'string') expect(res.body.error).toBe(error);
  else if (error) expect(res.body.error).toMatch(error);
};

const archiveForm = (bytes: Buffer, filename: string) => {
  const form = new FormData();
  form.append('file', new Blob([new Uint8Array(bytes)]), filename);
  return form;
};

const isTar = (bytes: Buffer) => bytes.subarray(257, 262).toString('latin1') === 'ustar';

beforeAll(async () => {
  files = await serveFiles({
    '/path/to/iso': { body: ISO },
    '/slow.iso': { body: Buffer.alloc(600, 1), trickle_ms: 50 },
  });
  server = await startTestServer({ env: { HANGAR_IMAGE_ALLOW_HOSTS: '127.0.0.1' }, sim_bytes_per_gb: 2 ** 16 });
}, 60_000);
afterAll(async () => {
  // The server first: it drops the trickling download, which the file server waits for.
  await server?.stop();
  await files?.close();
});

describe('by-name: the README, request by request', () => {
  let generated = '';
  let tarArchive = Buffer.alloc(0);
  let gzArchive = Buffer.alloc(0);
  let firstNumber = 0;

  it('publishes its OpenAPI document with every path', async () => {
    const doc = await send('GET', '/openapi/by-name.json', undefined, {});
    expect(doc.status).toBe(200);
    expect(Object.keys(doc.body.paths).sort()).toEqual(
      [
        '/vms',
        '/vms/{vm_name}',
        '/vms/{vm_name}/modify',
        '/vms/{vm_name}/unmount_iso',
        '/vms/{vm_name}/start',
        '/vms/{vm_name}/stop',
        '/vms/{vm_name}/export',
        '/vms/{vm_name}/exportCompressed',
        '/vms/import',
        '/vms/importCompressed',
      ].sort(),
    );
    expect(Object.keys(doc.body.paths['/vms']).sort()).toEqual(['get', 'post']);
    expect(Object.keys(doc.body.paths['/vms'].post.requestBody.content['application/json'].schema.properties).sort()).toEqual(
      ['disk_size_gb', 'iso_url', 'memory_mb', 'name', 'vcpu_count'].sort(),
    );
    expect(doc.body.paths['/vms/import'].post.requestBody.content).toHaveProperty('multipart/form-data');
  });

  it('1. Create VM: 202 at once, then the ISO is downloaded and the VM boots with the asked hardware', async () => {
    const res = await send(
      'POST',
      '/vms',
      `{
    "name": "test-vm",
    "iso_url": "${files.url}/path/to/iso",
    "disk_size_gb": 40,
    "memory_mb": 8192,
    "vcpu_count": 4
}`,
    );
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    expect(res.body).toEqual({ message: 'VM creation started', name: 'test-vm', id: expect.any(Number), uuid: expect.any(String) });
    firstNumber = res.body.id;
    await expect.poll(() => statusOf('test-vm'), { timeout: 30_000 }).toBe('running');
    const vm = (await nativeVm('test-vm'))!;
    expect(vm).toMatchObject({ id: res.body.uuid, number: res.body.id, disk_gb: 40, memory_mb: 8192, cpu_cores: 4 });
    expect(vm.iso_image_id).not.toBeNull();
    expect(files.hits.get('/path/to/iso')).toBeGreaterThanOrEqual(1);
  }, 60_000);

  it('1. Create VM: without a name one is generated, and the defaults are 30 GB, 4096 MB, 2 vCPUs', async () => {
    const res = await send('POST', '/vms', JSON.stringify({ iso_url: `${files.url}/path/to/iso` }));
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    expect(res.body.name).toMatch(/^vm-[0-9a-f]{8}$/);
    generated = res.body.name;
    await expect.poll(() => statusOf(generated), { timeout: 30_000 }).toBe('running');
    expect(await nativeVm(generated)).toMatchObject({ disk_gb: 30, memory_mb: 4096, cpu_cores: 2 });
  }, 60_000);

  it('4. List VMs: numbers, names and libvirt states (1 running), plus uuid and status', async () => {
    const vms = await listed();
    const seen = JSON.stringify(vms);
    expect(vms, seen).toHaveLength(2);
    for (const vm of vms) {
      expect(Object.keys(vm).sort()).toEqual(['id', 'name', 'state', 'status', 'uuid']);
      expect(Number.isInteger(vm.id) && Number.isInteger(vm.state)).toBe(true);
    }
    expect(
      vms.map((v) => v.name),
      seen,
    ).toEqual(['test-vm', generated]);
    expect(vms[0], seen).toMatchObject({ id: firstNumber, name: 'test-vm', state: 1, status: 'running' });
    expect(vms[1]!.id, seen).toBeGreaterThan(firstNumber);
  });

  it('2. Modify VM: a running VM is refused with 400 and left as it was', async () => {
    const before = (await nativeVm('test-vm'))!;
    const res = await send(
      'POST',
      '/vms/test-vm/modify',
      `{
    "memory_mb": 16384,
    "vcpu_count": 8,
    "disk_size_gb": 60,
    "new_name": "new-vm-name"
}`,
    );
    expectFlaskError(res, 400, 'VM must be stopped before modification');
    expect(res.body.code).toBe('INVALID_STATE');
    expect((await nativeVm('test-vm'))!.version).toBe(before.version);
    expect(await nativeVm('new-vm-name')).toBeUndefined();
  });

  it('8, 9. Export: a running VM is refused with 400', async () => {
    for (const path of ['export', 'exportCompressed']) {
      expectFlaskError(await send('GET', `/vms/test-vm/${path}`, undefined, auth()), 400, 'VM must be stopped before export');
    }
    expect(await statusOf('test-vm')).toBe('running');
  });

  it('7. Stop VM: 200 once it is off (and again when it already is); the list shows 5, shut off', async () => {
    const res = await send('POST', '/vms/test-vm/stop', undefined, auth());
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toEqual({ message: 'VM stopped' });
    expect(await statusOf('test-vm')).toBe('stopped');
    expect((await send('POST', '/vms/test-vm/stop', undefined, auth())).body).toEqual({ message: 'VM stopped' });
    expect((await listed()).find((v) => v.name === 'test-vm')).toMatchObject({ state: 5, status: 'stopped' });
  }, 30_000);

  it('2. Modify VM: refuses a bad body with 400, changing nothing', async () => {
    const before = (await nativeVm('test-vm'))!;
    expectFlaskError(await send('POST', '/vms/test-vm/modify', '{"memory_mb": "lots"}'), 400, /memory_mb/);
    const unknown = await send('POST', '/vms/test-vm/modify', '{"memory_mb": 16384, "colour": "blue"}');
    expectFlaskError(unknown, 400, /colour/);
    expect(unknown.body.fields).toEqual([expect.objectContaining({ path: '(root)' })]);
    expectFlaskError(await send('POST', '/vms/test-vm/modify', '{"disk_size_gb": 10}'), 400, /disk_gb can only grow/);
    expectFlaskError(await send('POST', '/vms/test-vm/modify', '{"new_name": "Not A Name"}'), 400, /new_name/);
    expectFlaskError(await send('POST', '/vms/test-vm/modify', 'memory_mb=16384', { ...auth(), 'content-type': 'text/plain' }), 400);
    expect((await nativeVm('test-vm'))!).toMatchObject({ version: before.version, memory_mb: 8192, cpu_cores: 4, disk_gb: 40 });
  });

  it('2. Modify VM: 200 once the stopped VM has the new hardware and name', async () => {
    const res = await send(
      'POST',
      '/vms/test-vm/modify',
      `{
    "memory_mb": 16384,
    "vcpu_count": 8,
    "disk_size_gb": 60,
    "new_name": "new-vm-name"
}`,
    );
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toMatchObject({ message: 'VM modified successfully', name: 'new-vm-name', id: firstNumber });
    expect(await nativeVm('new-vm-name')).toMatchObject({ memory_mb: 16384, cpu_cores: 8, disk_gb: 60, status: 'stopped' });
    expectFlaskError(await send('POST', '/vms/test-vm/modify', '{"memory_mb": 4096}'), 404, "VM 'test-vm' not found");
  }, 30_000);

  it('3. Unmount ISO: 200, then 400 No CDROM device found', async () => {
    const res = await send('POST', '/vms/new-vm-name/unmount_iso', undefined, auth());
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toEqual({ message: 'ISO unmounted and VM configuration updated' });
    expect((await nativeVm('new-vm-name'))!.iso_image_id).toBeNull();
    expectFlaskError(await send('POST', '/vms/new-vm-name/unmount_iso', undefined, auth()), 400, 'No CDROM device found');
  }, 30_000);

  it('8. Export VM: a tar; 9. Export Compressed VM: a tar.gz', async () => {
    const tar = await fetch(`${server.url}/vms/new-vm-name/export`, { headers: auth() });
    expect(tar.status).toBe(200);
    expect(tar.headers.get('content-type')).toBe('application/x-tar');
    expect(tar.headers.get('content-disposition')).toBe('attachment; filename="new-vm-name.tar"');
    tarArchive = Buffer.from(await tar.arrayBuffer());
    expect(isTar(tarArchive)).toBe(true);
    expect(tarArchive.subarray(0, 13).toString('latin1')).toBe('manifest.json');
    await expect.poll(() => statusOf('new-vm-name'), { timeout: 10_000 }).toBe('stopped');

    // By number too, as every route but the shared ones takes it.
    const gz = await fetch(`${server.url}/vms/${firstNumber}/exportCompressed`, { headers: auth() });
    expect(gz.status).toBe(200);
    expect(gz.headers.get('content-type')).toBe('application/gzip');
    expect(gz.headers.get('content-disposition')).toBe('attachment; filename="new-vm-name.tar.gz"');
    gzArchive = Buffer.from(await gz.arrayBuffer());
    expect([...gzArchive.subarray(0, 2)]).toEqual([0x1f, 0x8b]);
    expect(isTar(gunzipSync(gzArchive))).toBe(true);
    await expect.poll(() => statusOf('new-vm-name'), { timeout: 10_000 }).toBe('stopped');
  }, 30_000);

  it('5. Delete VM: 204 with no body, and it is gone', async () => {
    const res = await fetch(`${server.url}/vms/new-vm-name`, { method: 'DELETE', headers: auth() });
    expect(res.status).toBe(204);
    expect(await res.text()).toBe('');
    expect(await nativeVm('new-vm-name')).toBeUndefined();
    expect((await listed()).map((v) => v.name)).toEqual([generated]);
    expectFlaskError(await send('DELETE', '/vms/new-vm-name', undefined, auth()), 404, "VM 'new-vm-name' not found");
  }, 30_000);

  it('10. Import VM: the tar export comes back under its name, stopped, with a new number', async () => {
    const res = await send('POST', '/vms/import', archiveForm(tarArchive, 'new-vm-name.tar'), auth());
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toEqual({
      message: 'VM imported successfully',
      name: 'new-vm-name',
      id: expect.any(Number),
      uuid: expect.any(String),
    });
    expect(res.body.id).not.toBe(firstNumber);
    expect(await nativeVm('new-vm-name')).toMatchObject({ status: 'stopped', memory_mb: 16384, cpu_cores: 8, disk_gb: 60 });
  }, 30_000);

  it('11. Import Compressed VM: a clashing name is 409; once the original is gone the tar.gz comes back', async () => {
    const count = await vmCount();
    expectFlaskError(await send('POST', '/vms/importCompressed', archiveForm(gzArchive, 'x.tar.gz'), auth()), 409, /already exists/);
    expect(await vmCount()).toBe(count);
    expect((await send('DELETE', '/vms/new-vm-name', undefined, auth())).status).toBe(204);
    const res = await send('POST', '/vms/importCompressed', archiveForm(gzArchive, 'new-vm-name.tar.gz'), auth());
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toMatchObject({ message: 'VM imported successfully', name: 'new-vm-name', id: expect.any(Number) });
    expect(await nativeVm('new-vm-name')).toMatchObject({ status: 'stopped', memory_mb: 16384 });
  }, 30_000);

  it('6. Start VM: 200 once it runs; the list shows 1', async () => {
    const res = await send('POST', '/vms/new-vm-name/start', undefined, auth());
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toEqual({ message: 'VM started' });
    expect((await listed()).find((v) => v.name === 'new-vm-name')).toMatchObject({ state: 1, status: 'running' });
  }, 30_000);

  it('6, 7. Start and stop: a VM in a state that does not allow it is 400 "Failed to …"', async () => {
    const vm = (await nativeVm(generated))!;
    const paused = await send('POST', `/api/v1/vms/${vm.id}/pause`, '{"wait": true}');
    expect(paused.status, JSON.stringify(paused.body)).toBeLessThan(300);
    expect((await listed()).find((v) => v.name === generated)).toMatchObject({ state: 3, status: 'paused' });
    expectFlaskError(await send('POST', `/vms/${generated}/start`, undefined, auth()), 400, /^Failed to start VM: Cannot start VM/);
    expect(await statusOf(generated)).toBe('paused');

    // A VM still downloading its ISO: no state yet, and it can be neither started nor stopped.
    const slow = await send('POST', '/vms', JSON.stringify({ name: 'slow-vm', iso_url: `${files.url}/slow.iso` }));
    expect(slow.status).toBe(202);
    expect((await listed()).find((v) => v.name === 'slow-vm')).toMatchObject({ state: 0, status: 'provisioning' });
    expectFlaskError(await send('POST', '/vms/slow-vm/stop', undefined, auth()), 400, /^Failed to stop VM: /);
    expectFlaskError(await send('POST', '/vms/slow-vm/start', undefined, auth()), 400, /^Failed to start VM: /);
    // Deleting takes it whatever it is doing, as the earlier API did.
    expect((await send('DELETE', '/vms/slow-vm', undefined, auth())).status).toBe(204);
    expect(await nativeVm('slow-vm')).toBeUndefined();
  }, 30_000);

  it('1. Create VM: a download that fails fails the VM later (state 6), not the request', async () => {
    const res = await send('POST', '/vms', JSON.stringify({ name: 'no-iso', iso_url: `${files.url}/missing.iso` }));
    expect(res.status).toBe(202);
    await expect.poll(() => statusOf('no-iso'), { timeout: 30_000 }).toBe('error');
    expect((await nativeVm('no-iso'))!.last_error).toBeTruthy();
    expect((await listed()).find((v) => v.name === 'no-iso')).toMatchObject({ state: 6, status: 'error' });
    expect((await send('DELETE', '/vms/no-iso', undefined, auth())).status).toBe(204);
  }, 60_000);
});

describe('by-name: what goes wrong', () => {
  it('refuses a bad create body with 400 {"error"} and creates nothing', async () => {
    const count = await vmCount();
    const iso = `${files.url}/path/to/iso`;
    const bodies: [string, RegExp][] = [
      // The README's body without its required iso_url.
      ['{"name": "test-vm", "disk_size_gb": 40, "memory_mb": 8192, "vcpu_count": 4}', /iso_url/],
      [`{"name": "test-vm", "iso_url": "${iso}", "memory_mb": "lots"}`, /memory_mb/],
      [`{"name": "test-vm", "iso_url": "${iso}", "colour": "blue"}`, /colour/],
      [`{"name": "test-vm", "iso_url": "not a url"}`, /iso_url/],
      [`{"name": "Test VM", "iso_url": "${iso}"}`, /name/],
      [`{"iso_url": "${iso}", "vcpu_count": 0}`, /vcpu_count/],
    ];
    for (const [body, error] of bodies) {
      const res = await send('POST', '/vms', body);
      expectFlaskError(res, 400, error);
      expect(res.body.code).toBe('VALIDATION');
    }
    expect(await vmCount()).toBe(count);
  });

  it('answers 409 for a name in use', async () => {
    const taken = (await listed())[0]!.name;
    const res = await send('POST', '/vms', JSON.stringify({ name: taken, iso_url: `${files.url}/path/to/iso` }));
    expectFlaskError(res, 409, /already exists/);
  });

  it('refuses an import with no file part or a bad archive with 400, importing nothing', async () => {
    const count = await vmCount();
    const other = new FormData();
    other.append('archive', new Blob([new Uint8Array(16)]), 'x.tar');
    for (const path of ['/vms/import', '/vms/importCompressed']) {
      expectFlaskError(await send('POST', path, other, auth()), 400, 'No file part');
      expectFlaskError(await send('POST', path, '{}'), 400, 'No file part');
      const junk = await send('POST', path, archiveForm(Buffer.alloc(4096, 9), 'junk.tar'), auth());
      expectFlaskError(junk, 400);
      expect(junk.body.code).toBe('INVALID_ARCHIVE');
    }
    expect(await vmCount()).toBe(count);
  });

  it('answers 404 for a VM that does not exist, on every route that names one', async () => {
    for (const [method, path] of [
      ['POST', '/vms/no-such-vm/modify'],
      ['POST', '/vms/no-such-vm/unmount_iso'],
      ['DELETE', '/vms/no-such-vm'],
      ['POST', '/vms/no-such-vm/start'],
      ['POST', '/vms/no-such-vm/stop'],
      ['GET', '/vms/no-such-vm/export'],
      ['GET', '/vms/no-such-vm/exportCompressed'],
    ] as const) {
      const res = await send(method, path, method === 'POST' ? '{"memory_mb": 4096}' : undefined);
      expectFlaskError(res, 404, "VM 'no-such-vm' not found");
      expect(res.body.code).toBe('VM_NOT_FOUND');
    }
  });

  it('answers 401 without a token, on every route, and does nothing', async () => {
    const count = await vmCount();
    const iso = JSON.stringify({ name: 'sneaky', iso_url: `${files.url}/path/to/iso` });
    const name = (await listed())[0]!.name;
    for (const [method, path, body] of [
      ['GET', '/vms', undefined],
      ['POST', '/vms', iso],
      ['POST', `/vms/${name}/modify`, '{"memory_mb": 4096}'],
      ['POST', `/vms/${name}/unmount_iso`, undefined],
      ['DELETE', `/vms/${name}`, undefined],
      ['POST', `/vms/${name}/start`, undefined],
      ['POST', `/vms/${name}/stop`, undefined],
      ['GET', `/vms/${name}/export`, undefined],
      ['GET', `/vms/${name}/exportCompressed`, undefined],
      ['POST', '/vms/import', '{}'],
      ['POST', '/vms/importCompressed', '{}'],
    ] as const) {
      const res = await send(method, path, body, { 'content-type': 'application/json' });
      expectFlaskError(res, 401);
      expect(res.body.code).toBe('UNAUTHENTICATED');
    }
    const badKey = await send('GET', '/vms', undefined, { authorization: 'Bearer hgr_not_a_real_key_000000000000' });
    expectFlaskError(badKey, 401);
    expect(await vmCount()).toBe(count);
    expect(await nativeVm(name)).toBeDefined();
  });
});

describe('by-name: sharing /vms with the id-addressed dialects', () => {
  const route = (method: DialectMethod, path: string) => byName.routes.find((r) => r.method === method && r.path === path)!;
  // Whatever this dialect leaves to the next one, it decides without asking the native API.
  const untouchable = new Proxy({} as NativeCalls, {
    get: () => {
      throw new Error('the native API was called');
    },
  });
  const app = new Hono<AppEnv>();
  const mount = (method: DialectMethod, path: string) =>
    app.on(method, path.replace(/\{(\w+)\}/g, ':$1'), async (c, next) => {
      const answer = await route(method, path).handle({ c, params: c.req.param() as Record<string, string>, native: untouchable });
      return answer ?? next();
    });
  mount('POST', '/vms');
  mount('DELETE', '/vms/{vm_name}');
  mount('POST', '/vms/{vm_name}/start');
  mount('POST', '/vms/{vm_name}/stop');
  app.onError((err, c) => c.json({ threw: err.message }, 500));
  // The next dialect: reads the body again.
  app.all('*', async (c) => c.json({ next: c.req.method === 'POST' ? await readBody(c).catch(() => 'unreadable') : null }));

  it('leaves a create body without iso_url, disk_size_gb or vcpu_count to the next dialect, body intact', async () => {
    for (const body of ['{"name": "vm1"}', '{"name": "test-vm", "cpu_cores": 2, "memory": 4096, "disk_size": 50}']) {
      const res = await app.request('/vms', { method: 'POST', body, headers: { 'content-type': 'application/json' } });
      expect(await res.json()).toEqual({ next: JSON.parse(body) });
    }
    const form = await app.request('/vms', {
      method: 'POST',
      body: 'name=vm1',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(await form.json()).toEqual({ next: { name: 'vm1' } });
    // Not JSON at all: the next dialect says what is wrong with it.
    const broken = await app.request('/vms', { method: 'POST', body: '{"iso_url": ', headers: { 'content-type': 'application/json' } });
    expect(await broken.json()).toEqual({ next: 'unreadable' });
  });

  it('leaves ids and numbers on DELETE /vms/{ref}, start and stop to the id-addressed dialects', async () => {
    for (const ref of ['6c7e3b27-7159-4e0a-9e30-3d44284574cd', '42']) {
      for (const [method, path] of [
        ['DELETE', `/vms/${ref}`],
        ['POST', `/vms/${ref}/start`],
        ['POST', `/vms/${ref}/stop`],
      ]) {
        const res = await app.request(path!, { method, headers: { 'content-type': 'application/json' } });
        expect(res.status).toBe(200);
      }
    }
    // A name is this dialect's: it asks the native API (here refused, so it throws).
    for (const [method, path] of [
      ['DELETE', '/vms/some-name'],
      ['POST', '/vms/some-name/start'],
      ['POST', '/vms/some-name/stop'],
    ]) {
      const res = await app.request(path!, { method });
      expect(await res.json()).toEqual({ threw: 'the native API was called' });
    }
  });
});
