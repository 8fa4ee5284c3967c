import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../src/testing.js';

let server: TestServer;
let vmId: string;
beforeAll(async () => {
  server = await startTestServer();
  const r = await post('vms.create', { name: 'target', memory_mb: 256, disk_gb: 1, cpu_cores: 1, wait: true });
  vmId = r.body.result.data.vm.id;
});
afterAll(() => server?.stop());

async function post(path: string, input: unknown, raw?: string) {
  const res = await fetch(`${server.url}/trpc/${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${server.apiKey}`, 'content-type': 'application/json' },
    body: raw ?? JSON.stringify(input),
  });
  return { status: res.status, body: (await res.json()) as any, headers: res.headers };
}

async function snapshot() {
  const sql = server.database.sql;
  const tables = ['vms', 'operations', 'events', 'idempotency_keys', 'users', 'api_keys', 'projects'];
  return Object.fromEntries(await Promise.all(tables.map(async (t) => [t, await sql.unsafe(`SELECT * FROM ${t} ORDER BY 1`)])));
}

describe('bad input over HTTP', () => {
  it('answers 400 with the failing fields, and changes nothing', async () => {
    const cases: [string, unknown][] = [
      ['vms.create', { name: 'ok-name', cpu_cores: 'two' }],
      ['vms.create', { name: 'ok-name', cpu_cores: 0 }],
      ['vms.create', { name: 'ok-name', memory_mb: 99_999_999 }],
      ['vms.create', { name: 'ok-name', disk_gb: -5 }],
      ['vms.create', { name: 'ok-name', public_ip: '300.2.3.4' }],
      ['vms.create', { name: 'ok-name', public_ip: 'fe80::zz' }],
      ['vms.create', { name: 'x'.repeat(1024 * 1024) }],
      ['vms.create', { name: 'ok-name', surprise: true }],
      ['vms.create', { name: 'ok-name', labels: { 'bad key': 'v' } }],
      ['vms.create', null],
      ['vms.create', []],
      ['vms.update', { id: vmId, cpu_cores: 1000 }],
      ['vms.update', { id: vmId }],
      ['vms.update', { id: 'not-a-uuid', labels: {} }],
      ['vms.start', { id: vmId, extra: 1 }],
      ['vms.stop', { id: vmId, timeout_s: 'soon' }],
      ['vms.delete', { id: vmId, force: 'yes' }],
      ['api_keys.create', { name: '' }],
      ['users.create', { username: 'has space', role: 'viewer' }],
      ['users.create', { username: 'ok-user', role: 'superuser' }],
      ['projects.create', { name: 'Bad Name' }],
      // A `__proto__` key, as parsed JSON has it (an own key; a literal here would set the
      // prototype instead): records dropped it without a word, and an update then wiped the labels.
      ['vms.create', JSON.parse('{"name":"ok-name","labels":{"__proto__":{"evil":1}}}')],
      ['vms.update', JSON.parse(`{"id":"${vmId}","labels":{"__proto__":{"polluted":true}}}`)],
      ['vms.create', JSON.parse('{"name":"ok-name","placement":{"host_labels":{"__proto__":"x"}}}')],
    ];
    const before = await snapshot();
    for (const [path, input] of cases) {
      const r = await post(path, input);
      const label = `${path} ${JSON.stringify(input)?.slice(0, 60)}`;
      expect(r.status, label).toBe(400);
      expect(r.body.error.data.code, label).toBe('VALIDATION');
      expect(r.body.error.data.fields.length, label).toBeGreaterThan(0);
      expect(r.body.error.message.length, label).toBeLessThan(1000);
      expect(JSON.stringify(r.body), label).not.toMatch(/\bat .*\.ts:\d+/);
      expect(r.headers.get('x-request-id'), label).toBeTruthy();
    }
    const malformed = await post('vms.create', undefined, '{"name": ');
    expect(malformed.status).toBe(400);
    expect(await snapshot()).toEqual(before);
  });

  it('ignores what is sent as input to a procedure that takes none, as it always did', async () => {
    for (const input of ['garbage', '{"__proto__":1']) {
      const res = await fetch(`${server.url}/trpc/auth.whoami?input=${encodeURIComponent(input)}`, {
        headers: { authorization: `Bearer ${server.apiKey}` },
      });
      expect(res.status, input).toBe(200);
    }
  });

  it('answers 404 for an unknown procedure and route', async () => {
    expect((await post('vms.teleport', {})).status).toBe(404);
    const res = await fetch(`${server.url}/nowhere`);
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ code: 'NOT_FOUND' });
  });

  it('answers 409 with the VM’s status, allowed actions and the blocking operation', async () => {
    server.driver.hypervisor.setLatency(400);
    try {
      const start = await post('vms.start', { id: vmId });
      const r = await post('vms.pause', { id: vmId });
      expect(r.status).toBe(409);
      expect(r.body.error.data).toMatchObject({
        code: 'OPERATION_IN_PROGRESS',
        status: 'starting',
        allowed_actions: ['force_stop', 'update_metadata'],
        operation_id: start.body.result.data.operation.id,
        should_retry: true,
      });
    } finally {
      server.driver.hypervisor.setLatency(0);
    }
  });

  it('serves health and readiness', async () => {
    expect(await (await fetch(`${server.url}/healthz`)).json()).toEqual({ status: 'ok' });
    expect(await (await fetch(`${server.url}/readyz`)).json()).toEqual({ status: 'ready' });
  });

  it('replays an idempotent create and refuses the key reused for something else (422)', async () => {
    const input = { name: 'idem-http', memory_mb: 256, disk_gb: 1, cpu_cores: 1, idempotency_key: 'http-key-1' };
    const a = await post('vms.create', input);
    const b = await post('vms.create', input);
    expect(b.body.result.data.vm.id).toBe(a.body.result.data.vm.id);
    const c = await post('vms.create', { ...input, cpu_cores: 2 });
    expect(c.status).toBe(422);
    expect(c.body.error.data.code).toBe('IDEMPOTENCY_MISMATCH');
  });
});
