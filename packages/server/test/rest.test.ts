import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../src/testing.js';
import { defineRestSuite } from './rest-suite.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server?.stop());

defineRestSuite({ base: () => `${server.url}/api/v1`, server: () => server, direct: true });

describe('REST and tRPC are the same API', () => {
  async function trpc(path: string, input?: unknown) {
    const url = new URL(`${server.url}/trpc/${path}`);
    if (input !== undefined) url.searchParams.set('input', JSON.stringify(input));
    const res = await fetch(url, { headers: { authorization: `Bearer ${server.apiKey}` } });
    return ((await res.json()) as { result: { data: unknown } }).result.data;
  }

  async function rest(path: string) {
    const res = await fetch(`${server.url}/api/v1${path}`, { headers: { authorization: `Bearer ${server.apiKey}` } });
    return { body: (await res.json()) as any };
  }
  async function post(path: string, body: unknown) {
    const res = await fetch(`${server.url}/api/v1${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${server.apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return { body: (await res.json()) as any };
  }

  it('answers the same for the same call, in every family', async () => {
    const vm = (await post('/vms?wait=true', { name: 'twin', cpu_cores: 1, memory_mb: 256, disk_gb: 1, labels: { twin: 'yes' } })).body.vm;
    const opId = (await rest(`/operations?vm_id=${vm.id}`)).body.operations[0].id;
    const pairs: [string, unknown, string][] = [
      ['vms.get', { id: vm.id }, `/vms/${vm.id}`],
      ['vms.list', { label: ['twin=yes'], per_page: 5 }, '/vms?label=twin%3Dyes&per_page=5'],
      ['vms.events', { id: vm.id }, `/vms/${vm.id}/events`],
      ['vms.get_config', { id: vm.id }, `/vms/${vm.id}/config`],
      ['operations.get', { id: opId }, `/operations/${opId}`],
      ['operations.list', { vm_id: vm.id }, `/operations?vm_id=${vm.id}`],
      ['auth.whoami', undefined, '/whoami'],
      ['api_keys.list', undefined, '/api-keys'],
      ['users.list', undefined, '/users'],
      ['projects.list', undefined, '/projects'],
    ];
    for (const [procedure, input, path] of pairs) {
      expect((await rest(path)).body, procedure).toEqual(await trpc(procedure, input));
    }
  });

  interface Answer {
    status: number;
    body: any;
    headers: Headers;
  }
  /** A tRPC call as a client makes it: queries by GET, mutations by POST, the answer unwrapped or the error as is. */
  async function trpcCall(type: 'query' | 'mutation', path: string, input: unknown): Promise<Answer> {
    const url = new URL(`${server.url}/trpc/${path}`);
    const headers: Record<string, string> = { authorization: `Bearer ${server.apiKey}` };
    if (type === 'query') url.searchParams.set('input', JSON.stringify(input));
    else headers['content-type'] = 'application/json';
    const res = await fetch(url, {
      method: type === 'query' ? 'GET' : 'POST',
      headers,
      body: type === 'mutation' ? JSON.stringify(input) : undefined,
    });
    const json = (await res.json()) as { result?: { data: unknown }; error?: unknown };
    return { status: res.status, body: json.error ? json : json.result!.data, headers: res.headers };
  }
  async function restCall(method: string, path: string, body?: unknown): Promise<Answer> {
    const headers: Record<string, string> = { authorization: `Bearer ${server.apiKey}` };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(`${server.url}/api/v1${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, body: await res.json(), headers: res.headers };
  }

  const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
  const PER_VM = new Set(['vnc_port', 'mac_address', 'number']);
  const TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/;
  /**
   * An answer with what must differ between two fresh VMs taken out: each id becomes its
   * order of first appearance (so which id is which still counts), times and the VM's name
   * a placeholder, the VNC port, MAC address and number (allocated per VM) and the events'
   * serial ids their type. Everything else must be equal.
   */
  function normalized(value: unknown, name: string, ids = new Map<string, string>()): unknown {
    if (typeof value === 'string') {
      if (UUID.test(value)) {
        if (!ids.has(value)) ids.set(value, `<id ${ids.size}>`);
        return ids.get(value);
      }
      if (TIME.test(value)) return '<time>';
      return value.replaceAll(name, '<name>');
    }
    if (Array.isArray(value)) return value.map((v) => normalized(v, name, ids));
    if (value && typeof value === 'object') {
      return Object.fromEntries(
        Object.entries(value).map(([k, v]) => [
          k,
          (PER_VM.has(k) && v !== null) || (k === 'id' && typeof v === 'number') ? `<${typeof v}>` : normalized(v, name, ids),
        ]),
      );
    }
    return value;
  }

  it('answers the same for the same mutations, on two fresh VMs', async () => {
    const names = { trpc: 'parity-over-trpc', rest: 'parity-over-rest' };
    const created = {
      trpc: await trpcCall('mutation', 'vms.create', {
        name: names.trpc,
        cpu_cores: 1,
        memory_mb: 256,
        disk_gb: 1,
        labels: { parity: 'yes' },
        wait: true,
      }),
      rest: await restCall('POST', '/vms', {
        name: names.rest,
        cpu_cores: 1,
        memory_mb: 256,
        disk_gb: 1,
        labels: { parity: 'yes' },
        wait: true,
      }),
    };
    expect(created.rest.status).toBe(201);
    expect(created.rest.body.vm).toMatchObject({ name: names.rest, status: 'stopped' });
    expect(normalized(created.rest.body, names.rest)).toEqual(normalized(created.trpc.body, names.trpc));
    const ids = { trpc: created.trpc.body.vm.id as string, rest: created.rest.body.vm.id as string };
    expect(ids.rest).not.toBe(ids.trpc);

    // [procedure, its input but the id, REST method, REST path after /vms/{id}, REST body, REST status, VM status after]
    const steps: [string, Record<string, unknown>, string, string, unknown, number, string][] = [
      [
        'vms.update',
        { labels: { parity: 'yes', step: 'metadata' }, os_version: '12' },
        'PATCH',
        '',
        { labels: { parity: 'yes', step: 'metadata' }, os_version: '12' },
        200,
        'stopped',
      ],
      ['vms.start', { wait: true }, 'POST', '/start', { wait: true }, 200, 'running'],
      // Asking for what already holds: nothing to do, no operation.
      ['vms.start', {}, 'POST', '/start', undefined, 200, 'running'],
      ['vms.pause', { wait: true }, 'POST', '/pause', { wait: true }, 200, 'paused'],
      ['vms.resume', { wait: true }, 'POST', '/resume?wait=true', undefined, 200, 'running'],
      // Without wait: the answer at once, with the operation still pending.
      ['vms.restart', {}, 'POST', '/restart', undefined, 202, 'restarting'],
      ['vms.stop', { wait: true, timeout_s: 5 }, 'POST', '/stop', { wait: true, timeout_s: 5 }, 200, 'stopped'],
      ['vms.resize', { cpu_cores: 2, disk_gb: 2, wait: true }, 'POST', '/resize', { cpu_cores: 2, disk_gb: 2, wait: true }, 200, 'stopped'],
      [
        'vms.configure',
        { memory_mb: 512, vnc_enabled: false, wait: true },
        'PUT',
        '/config',
        { memory_mb: 512, vnc_enabled: false, wait: true },
        200,
        'stopped',
      ],
      ['vms.update', { name: `${names.trpc}-renamed` }, 'PUT', '', { name: `${names.rest}-renamed` }, 200, 'stopped'],
      ['vms.delete', { delete_disks: true, wait: true }, 'DELETE', '?delete_disks=true&wait=true', undefined, 200, 'deleted'],
    ];
    for (const [procedure, input, method, suffix, body, status, after] of steps) {
      const viaTrpc = await trpcCall('mutation', procedure, { id: ids.trpc, ...input });
      const viaRest = await restCall(method, `/vms/${ids.rest}${suffix}`, body);
      expect(viaRest.status, `${method} ${suffix}`).toBe(status);
      expect(viaRest.body.vm?.status, procedure).toBe(after);
      expect(normalized(viaRest.body, names.rest), `${procedure} = ${method} /vms/{id}${suffix}`).toEqual(
        normalized(viaTrpc.body, names.trpc),
      );
      if (procedure === 'vms.restart') {
        for (const id of Object.values(ids)) await restCall('GET', `/vms/${id}/wait?status=running&timeout=5000`);
      }
    }

    // The same history, and the same VM at the end (read over the other protocol, too).
    const history = {
      trpc: await restCall('GET', `/vms/${ids.trpc}/events`),
      rest: await trpcCall('query', 'vms.events', { id: ids.rest }),
    };
    expect(history.rest.body.length).toBeGreaterThan(steps.length);
    expect(normalized(history.rest.body, names.rest)).toEqual(normalized(history.trpc.body, names.trpc));
    const ops = {
      trpc: await restCall('GET', `/operations?vm_id=${ids.trpc}`),
      rest: await trpcCall('query', 'operations.list', { vm_id: ids.rest }),
    };
    expect(normalized(ops.rest.body, names.rest)).toEqual(normalized(ops.trpc.body, names.trpc));
    const final = { trpc: await restCall('GET', `/vms/${ids.trpc}`), rest: await trpcCall('query', 'vms.get', { id: ids.rest }) };
    expect(final.rest.body).toMatchObject({ status: 'deleted', cpu_cores: 2, memory_mb: 512, disk_gb: 2, name: `${names.rest}-renamed` });
    expect(normalized(final.rest.body, names.rest)).toEqual(normalized(final.trpc.body, names.trpc));
  });

  /** The same refusal both ways: status, code, message and every detail (fields, state, ids); only the request id differs. */
  async function sameError(viaTrpc: Answer, viaRest: Answer, expected: { status: number; code: string }) {
    const { message, data } = viaTrpc.body.error as { message: string; data: Record<string, unknown> };
    const { code, httpStatus, path, request_id, should_retry, ...details } = data;
    expect({ status: viaTrpc.status, httpStatus, code }).toEqual({
      status: expected.status,
      httpStatus: expected.status,
      code: expected.code,
    });
    expect(request_id).toBe(viaTrpc.headers.get('x-request-id'));
    const { detail, code: restCode, request_id: restRequestId, ...restDetails } = viaRest.body;
    expect(restRequestId).toBe(viaRest.headers.get('x-request-id'));
    expect({ status: viaRest.status, code: restCode, detail, ...restDetails }).toEqual({
      status: expected.status,
      code,
      detail: message,
      ...details,
    });
    expect(viaRest.headers.get('x-should-retry')).toBe(String(should_retry));
    void path;
    return viaRest.body as Record<string, unknown>;
  }

  it('refuses the same way: bad input, a missing VM, conflicts', async () => {
    const vm = (await restCall('POST', '/vms', { name: 'parity-errors', cpu_cores: 1, memory_mb: 256, disk_gb: 1, wait: true })).body.vm;
    const running = (
      await restCall('POST', '/vms', { name: 'parity-running', cpu_cores: 1, memory_mb: 256, disk_gb: 1, start: true, wait: true })
    ).body.vm;
    expect([vm.status, running.status]).toEqual(['stopped', 'running']);
    const missing = '00000000-0000-4000-8000-000000000000';

    const bad = { name: 'ok-name', cpu_cores: 0, public_ip: 'nope', extra: 1 };
    const invalid = await sameError(await trpcCall('mutation', 'vms.create', bad), await restCall('POST', '/vms', bad), {
      status: 400,
      code: 'VALIDATION',
    });
    expect((invalid.fields as { path: string }[]).map((f) => f.path).sort()).toEqual(['(root)', 'cpu_cores', 'public_ip']);
    await sameError(await trpcCall('query', 'vms.get', { id: 'not-a-uuid' }), await restCall('GET', '/vms/not-a-uuid'), {
      status: 400,
      code: 'VALIDATION',
    });
    await sameError(await trpcCall('query', 'vms.list', { per_page: 500 }), await restCall('GET', '/vms?per_page=500'), {
      status: 400,
      code: 'VALIDATION',
    });
    await sameError(
      await trpcCall('mutation', 'vms.update', { id: vm.id, labels: { 'Bad Key': 'x' } }),
      await restCall('PATCH', `/vms/${vm.id}`, { labels: { 'Bad Key': 'x' } }),
      { status: 400, code: 'VALIDATION' },
    );

    for (const [procedure, method, suffix] of [
      ['vms.get', 'GET', ''],
      ['vms.start', 'POST', '/start'],
      ['vms.delete', 'DELETE', ''],
      ['vms.update', 'PATCH', ''],
    ] as const) {
      const input = procedure === 'vms.update' ? { id: missing, labels: { a: 'b' } } : { id: missing };
      const body = procedure === 'vms.update' ? { labels: { a: 'b' } } : undefined;
      const notFound = await sameError(
        await trpcCall(procedure === 'vms.get' ? 'query' : 'mutation', procedure, input),
        await restCall(method, `/vms/${missing}${suffix}`, body),
        { status: 404, code: 'VM_NOT_FOUND' },
      );
      expect(notFound.detail).toBe(`VM with ID ${missing} not found`);
    }
    await sameError(await trpcCall('query', 'operations.get', { id: missing }), await restCall('GET', `/operations/${missing}`), {
      status: 404,
      code: 'OPERATION_NOT_FOUND',
    });

    const state = await sameError(await trpcCall('mutation', 'vms.pause', { id: vm.id }), await restCall('POST', `/vms/${vm.id}/pause`), {
      status: 409,
      code: 'INVALID_STATE',
    });
    expect(state).toMatchObject({ status: 'stopped', operation_id: null, retryable: false });
    await sameError(
      await trpcCall('mutation', 'vms.resize', { id: running.id, cpu_cores: 2 }),
      await restCall('POST', `/vms/${running.id}/resize`, { cpu_cores: 2 }),
      { status: 409, code: 'INVALID_STATE' },
    );
    await sameError(
      await trpcCall('mutation', 'vms.create', { name: 'parity-errors', cpu_cores: 1, memory_mb: 256, disk_gb: 1 }),
      await restCall('POST', '/vms', { name: 'parity-errors', cpu_cores: 1, memory_mb: 256, disk_gb: 1 }),
      { status: 409, code: 'NAME_TAKEN' },
    );
    await sameError(
      await trpcCall('mutation', 'vms.update', { id: vm.id, labels: { a: 'b' }, expected_version: vm.version + 5 }),
      await restCall('PATCH', `/vms/${vm.id}`, { labels: { a: 'b' }, expected_version: vm.version + 5 }),
      { status: 409, code: 'VERSION_CONFLICT' },
    );
    await trpcCall('mutation', 'vms.update', { id: vm.id, labels: { keyed: 'first' }, idempotency_key: 'parity-key' });
    await sameError(
      await trpcCall('mutation', 'vms.update', { id: vm.id, labels: { keyed: 'other' }, idempotency_key: 'parity-key' }),
      await restCall('PATCH', `/vms/${vm.id}`, { labels: { keyed: 'other' }, idempotency_key: 'parity-key' }),
      { status: 422, code: 'IDEMPOTENCY_MISMATCH' },
    );

    // None of the refusals changed anything: one keyed update, nothing else.
    const after = (await restCall('GET', `/vms/${vm.id}`)).body;
    expect(after).toMatchObject({ status: 'stopped', labels: { keyed: 'first' }, version: vm.version + 1, current_operation_id: null });
    expect((await restCall('GET', `/vms/${running.id}`)).body).toMatchObject({ status: 'running', cpu_cores: 1, version: running.version });
    expect((await restCall('GET', '/vms?search=parity-errors&include_deleted=true')).body.total).toBe(1);
  });
});
