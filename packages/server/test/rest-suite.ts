import { describe, expect, it } from 'vitest';
import { TEST_ADMIN_PASSWORD, type TestServer } from '../src/testing.js';

/**
 * The REST suite, run straight against the server (rest.test.ts) and through Prism, which
 * checks every request and answer against openapi.json (contract.test.ts).
 */
export interface RestTarget {
  /** Where /api/v1 is served (directly, or by the proxy). */
  base(): string;
  server(): TestServer;
  /** Requests that break the document are answered by the proxy itself, so those checks run only directly. */
  direct: boolean;
}

export function defineRestSuite(target: RestTarget): void {
  let token: string | undefined;
  interface Reply {
    status: number;
    body: any;
    headers: Headers;
  }

  async function rest(
    method: string,
    path: string,
    opts: { body?: unknown; headers?: Record<string, string>; auth?: string | null } = {},
  ): Promise<Reply> {
    const headers: Record<string, string> = { ...opts.headers };
    const auth = opts.auth === undefined ? (token ?? target.server().apiKey) : opts.auth;
    if (auth) headers.authorization = `Bearer ${auth}`;
    if (opts.body !== undefined) headers['content-type'] ??= 'application/json';
    const res = await fetch(`${target.base()}${path}`, {
      method,
      headers,
      body: opts.body === undefined ? undefined : typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body),
    });
    return { status: res.status, body: await res.json(), headers: res.headers };
  }

  describe('the seed-style curl flow', () => {
    it('token, create, get, list, start, stop, delete', async () => {
      // POST /token, OAuth2 password grant, form-encoded.
      const tok = await rest('POST', '/token', {
        auth: null,
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: `grant_type=password&username=admin&password=${encodeURIComponent(TEST_ADMIN_PASSWORD)}`,
      });
      expect(tok.status).toBe(200);
      expect(tok.body).toMatchObject({ token_type: 'bearer' });
      token = tok.body.access_token;

      // The body of seed 001, in Hangar's shapes (memory_mb, disk_gb); labels as a list still work.
      const created = await rest('POST', '/vms', {
        body: { name: 'test-vm', cpu_cores: 2, memory_mb: 4096, disk_gb: 50, public_ip: '192.168.1.1', labels: ['test'] },
      });
      expect(created.status).toBe(201);
      expect(created.headers.get('location')).toBe(`/api/v1/vms/${created.body.vm.id}`);
      expect(created.body.vm).toMatchObject({ name: 'test-vm', status: 'provisioning', labels: { test: '' } });
      expect(created.body.operation.action).toBe('create');
      const id = created.body.vm.id as string;

      const done = await rest('GET', `/operations/${created.body.operation.id}/wait?timeout=5000`);
      expect(done.body).toMatchObject({ timed_out: false, operation: { status: 'succeeded' } });

      const got = await rest('GET', `/vms/${id}`);
      expect(got.status).toBe(200);
      expect(got.body).toMatchObject({ id, status: 'stopped', cpu_cores: 2, memory_mb: 4096, public_ip: '192.168.1.1' });
      expect(got.body.created_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/);

      for (let i = 0; i < 4; i++) {
        await rest('POST', '/vms?wait=true', {
          body: {
            name: `web-server-0${i}`,
            memory_mb: 2048,
            disk_gb: 20,
            cpu_cores: 1,
            os_type: i ? 'linux' : 'windows',
            labels: { tier: 'web' },
          },
        });
      }
      const page = await rest('GET', '/vms?page=1&per_page=2&search=web-server&label=tier%3Dweb');
      expect(page.body).toMatchObject({ total: 4, page: 1, per_page: 2, total_pages: 2 });
      expect(page.body.vms).toHaveLength(2);
      expect(typeof page.body.next_cursor).toBe('string');
      const next = await rest('GET', `/vms?per_page=2&search=web-server&cursor=${page.body.next_cursor}`);
      expect(next.body.vms).toHaveLength(2);
      expect((await rest('GET', '/vms?os_type=windows')).body.total).toBe(1);
      expect((await rest('GET', `/vms?server_id=${got.body.host_id}&status=stopped&status=running`)).body.total).toBe(5);
      expect((await rest('GET', '/vms?status=running')).body.total).toBe(0);

      const start = await rest('POST', `/vms/${id}/start`);
      expect(start.status).toBe(202);
      expect(start.body).toMatchObject({ vm: { status: 'starting' }, operation: { action: 'start' } });
      const running = await rest('GET', `/vms/${id}/wait?status=running&timeout=5000`);
      expect(running.body).toMatchObject({ timed_out: false, vm: { status: 'running' } });

      const stop = await rest('POST', `/vms/${id}/stop?wait=true`);
      expect(stop.status).toBe(200);
      expect(stop.body.vm.status).toBe('stopped');

      const del = await rest('DELETE', `/vms/${id}?delete_disks=true&force=false&wait=true`);
      expect(del.status).toBe(200);
      expect(del.body.vm).toMatchObject({ id, status: 'deleted', created_at: got.body.created_at });
      expect(del.body.vm.deleted_at).not.toBeNull();
      const after = await rest('GET', `/vms/${id}`);
      expect(after.body).toMatchObject({ status: 'deleted', deleted_at: del.body.vm.deleted_at });
      expect((await rest('GET', '/vms?search=test-vm')).body.total).toBe(0);
      expect((await rest('GET', '/vms?search=test-vm&include_deleted=true')).body.total).toBe(1);
    });
  });

  describe('REST routes', () => {
    it('answers errors as {detail, code}', async () => {
      const missing = '00000000-0000-4000-8000-000000000000';
      const notFound = await rest('GET', `/vms/${missing}`);
      expect(notFound.status).toBe(404);
      expect(notFound.body).toMatchObject({ detail: `VM with ID ${missing} not found`, code: 'VM_NOT_FOUND' });
      expect(notFound.body.request_id).toBe(notFound.headers.get('x-request-id'));

      if (!target.direct) return;
      const anon = await rest('GET', '/vms', { auth: null });
      expect(anon.status).toBe(401);
      expect(anon.body.code).toBe('UNAUTHENTICATED');

      const bad = await rest('POST', '/vms', { body: { name: 'ok-name', cpu_cores: 0, public_ip: 'nope', extra: 1 } });
      expect(bad.status).toBe(400);
      expect(bad.body.code).toBe('VALIDATION');
      expect(bad.body.fields.map((f: { path: string }) => f.path).sort()).toEqual(['(root)', 'cpu_cores', 'public_ip']);
      expect((await rest('GET', '/vms?per_page=500')).status).toBe(400);
      expect((await rest('GET', '/vms?include_deleted=maybe')).status).toBe(400);
      expect((await rest('POST', '/vms', { body: '{"name":' })).status).toBe(400);
      expect((await rest('POST', '/vms', { body: '[1]' })).status).toBe(400);
      expect((await rest('GET', '/nowhere')).status).toBe(404);
      expect((await rest('DELETE', '/vms')).status).toBe(400);
      expect(JSON.stringify(bad.body)).not.toMatch(/\.ts:\d+/);
    });

    it('says why a state conflict happened, and whether retrying can help', async () => {
      const { body } = await rest('POST', '/vms?wait=true', { body: { name: 'conflicts', cpu_cores: 1, memory_mb: 256, disk_gb: 1 } });
      const id = body.vm.id;
      const pause = await rest('POST', `/vms/${id}/pause`);
      expect(pause.status).toBe(409);
      expect(pause.body).toMatchObject({ code: 'INVALID_STATE', status: 'stopped', operation_id: null, retryable: false });
      expect(pause.body.allowed_actions).toContain('start');
      expect(pause.headers.get('x-should-retry')).toBe('false');

      await rest('POST', `/vms/${id}/start?wait=true`);
      const resize = await rest('POST', `/vms/${id}/resize`, { body: { cpu_cores: 4 } });
      expect(resize.status).toBe(409);
      expect(resize.body.detail).toMatch(/while it is running/);
      const config = await rest('PUT', `/vms/${id}/config`, { body: { memory_mb: 1024 } });
      expect(config.status).toBe(409);

      await rest('POST', `/vms/${id}/stop?wait=true`);
      const resized = await rest('POST', `/vms/${id}/resize?wait=true`, { body: { cpu_cores: 4, disk_gb: 3 } });
      expect(resized.status).toBe(200);
      expect(resized.body.vm).toMatchObject({ cpu_cores: 4, disk_gb: 3, status: 'stopped' });
      const configured = await rest('PUT', `/vms/${id}/config`, { body: { memory_mb: 1024, vnc_enabled: false, wait: true } });
      expect(configured.body.vm).toMatchObject({ memory_mb: 1024, vnc_enabled: false, vnc_port: null });
      const shown = await rest('GET', `/vms/${id}/config`);
      expect(shown.body).toMatchObject({ id, cpu_cores: 4, memory_mb: 1024, disk_gb: 3, vnc_enabled: false });
      expect(shown.body.labels).toBeUndefined();
    });

    it('takes Idempotency-Key and If-Match headers', async () => {
      const body = { name: 'idem-rest', cpu_cores: 1, memory_mb: 256, disk_gb: 1 };
      const a = await rest('POST', '/vms', { body, headers: { 'Idempotency-Key': 'rest-key-1' } });
      const b = await rest('POST', '/vms', { body, headers: { 'Idempotency-Key': 'rest-key-1' } });
      expect(b.body.vm.id).toBe(a.body.vm.id);
      const c = await rest('POST', '/vms', { body: { ...body, cpu_cores: 2 }, headers: { 'Idempotency-Key': 'rest-key-1' } });
      expect(c.status).toBe(422);
      expect(c.body.code).toBe('IDEMPOTENCY_MISMATCH');

      // Settled first: the create finishing would bump the version between the read and the PUT.
      await rest('GET', `/vms/${a.body.vm.id}/wait?status=stopped&timeout=10000`);
      const vm = (await rest('GET', `/vms/${a.body.vm.id}`)).body;
      const stale = await rest('PATCH', `/vms/${vm.id}`, { body: { labels: { a: 'b' } }, headers: { 'If-Match': `"${vm.version + 5}"` } });
      expect(stale.status).toBe(409);
      expect(stale.body.code).toBe('VERSION_CONFLICT');
      expect(stale.headers.get('x-should-retry')).toBe('false');
      if (target.direct) {
        // A version is decimal digits: other spellings of the same number are not taken for it.
        for (const spelled of [`0x${vm.version.toString(16)}`, `${vm.version}e0`, `${vm.version}.0`, '0']) {
          const odd = await rest('PATCH', `/vms/${vm.id}`, { body: { labels: { a: 'odd' } }, headers: { 'If-Match': spelled } });
          expect(odd.status, spelled).toBe(400);
          expect(odd.body.code, spelled).toBe('VALIDATION');
        }
      }
      const fresh = await rest('PUT', `/vms/${vm.id}`, { body: { labels: { a: 'b' } }, headers: { 'If-Match': String(vm.version) } });
      expect(fresh.status).toBe(200);
      expect(fresh.body.vm.labels).toEqual({ a: 'b' });
    });

    it('refuses a path parameter given again with another value, and changes nothing', async () => {
      // The document has no `id` in any body or query, so the proxy would answer these itself.
      if (!target.direct) return;
      const made = [];
      for (const name of ['path-a', 'path-b']) {
        made.push((await rest('POST', '/vms?wait=true', { body: { name, cpu_cores: 1, memory_mb: 256, disk_gb: 1 } })).body.vm);
      }
      const [a, b] = made as { id: string; version: number }[];
      const tries: [string, string, { body?: unknown; headers?: Record<string, string> }, 'body' | 'query'][] = [
        ['POST', `/vms/${a!.id}/start`, { body: { id: b!.id } }, 'body'],
        ['POST', `/vms/${a!.id}/start?wait=true`, { body: { id: b!.id, wait: true } }, 'body'],
        ['POST', `/vms/${a!.id}/start?id=${b!.id}`, {}, 'query'],
        // The last of a repeated parameter is the one the input takes; every one must match.
        ['POST', `/vms/${a!.id}/start?id=${b!.id}&id=${a!.id}`, {}, 'query'],
        ['POST', `/vms/${a!.id}/start`, { body: { id: null } }, 'body'],
        ['PATCH', `/vms/${a!.id}`, { body: { id: b!.id, labels: { moved: 'yes' } } }, 'body'],
        ['PUT', `/vms/${a!.id}?id=${b!.id}`, { body: { labels: { moved: 'yes' } } }, 'query'],
        ['DELETE', `/vms/${a!.id}?id=${b!.id}&force=true`, {}, 'query'],
        ['GET', `/vms/${a!.id}?id=${b!.id}`, {}, 'query'],
        ['GET', `/vms/${a!.id}/events?id=${b!.id}`, {}, 'query'],
      ];
      for (const [method, path, opts, where] of tries) {
        const r = await rest(method, path, opts);
        expect(r.status, `${method} ${path}`).toBe(400);
        expect(r.body.code).toBe('VALIDATION');
        expect(r.body.fields).toEqual([{ path: 'id', message: expect.stringMatching(new RegExp(`${where}.*path`)) }]);
        expect(r.body.detail).toMatch(/\bid\b/);
      }
      // Nothing happened to either VM: not started, relabelled or deleted, and no new version.
      for (const vm of [a!, b!]) {
        expect((await rest('GET', `/vms/${vm.id}`)).body).toMatchObject({
          status: 'stopped',
          labels: {},
          version: vm.version,
          current_operation_id: null,
        });
      }
      expect((await rest('GET', `/operations?vm_id=${b!.id}`)).body.operations.map((o: { action: string }) => o.action)).toEqual([
        'create',
      ]);

      // The same value again is no conflict.
      const same = await rest('POST', `/vms/${a!.id}/start?wait=true&id=${a!.id}`, { body: { id: a!.id } });
      expect(same.status).toBe(200);
      expect(same.body.vm).toMatchObject({ id: a!.id, status: 'running' });
      expect((await rest('GET', `/vms/${a!.id}?id=${a!.id}`)).body.status).toBe('running');
      expect((await rest('GET', `/vms/${b!.id}`)).body.status).toBe('stopped');
    });

    it('serves users, API keys, projects, events and operations', async () => {
      const project = await rest('POST', '/projects', { body: { name: 'rest-team' } });
      expect(project.status).toBe(201);
      const user = await rest('POST', '/users', { body: { username: 'rest-operator', role: 'operator', password: 'long password 1' } });
      expect(user.status).toBe(201);
      const key = await rest('POST', '/api-keys', { body: { name: 'ops', user_id: user.body.id } });
      expect(key.status).toBe(201);
      expect(key.body.key).toMatch(/^hgr_/);
      expect((await rest('GET', '/whoami', { auth: key.body.key })).body).toMatchObject({ username: 'rest-operator', role: 'operator' });
      expect((await rest('GET', '/api-keys')).body.some((k: { id: string }) => k.id === key.body.api_key.id)).toBe(true);
      expect((await rest('DELETE', `/api-keys/${key.body.api_key.id}`)).body.revoked_at).not.toBeNull();
      expect((await rest('GET', '/whoami', { auth: key.body.key })).status).toBe(401);
      expect((await rest('GET', '/users')).body.map((u: { username: string }) => u.username)).toContain('rest-operator');
      expect((await rest('GET', '/projects')).body.map((p: { name: string }) => p.name)).toEqual(
        expect.arrayContaining(['default', 'rest-team']),
      );

      const vm = (await rest('POST', '/vms?wait=true', { body: { name: 'history', cpu_cores: 1, memory_mb: 256, disk_gb: 1 } })).body.vm;
      const events = await rest('GET', `/vms/${vm.id}/events?limit=2`);
      expect(events.body.map((e: { type: string }) => e.type)).toEqual(['vm.created', 'operation.queued']);
      const ops = await rest('GET', `/operations?vm_id=${vm.id}`);
      expect(ops.body.operations).toHaveLength(1);
      expect((await rest('GET', `/operations/${ops.body.operations[0].id}`)).body.status).toBe('succeeded');
    });
  });
}
