import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../src/testing.js';

// A tRPC query by GET is answered without tRPC's fetch adapter (src/http/trpc-single-query.ts).
// Whatever it answers, the adapter must have answered the same: an extra query parameter, which
// tRPC ignores, sends the same call through the adapter, and the two answers are compared.

let server: TestServer;
let vmId: string;
let deletedId: string;
let viewerKey: string;
const json = { 'content-type': 'application/json' };

beforeAll(async () => {
  server = await startTestServer();
  const auth = { authorization: `Bearer ${server.apiKey}`, ...json };
  const vm = await (
    await fetch(`${server.url}/api/v1/vms?wait=true`, {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({ name: 'compared', cpu_cores: 1, memory_mb: 256, disk_gb: 1, labels: { tier: 'web' } }),
    })
  ).json();
  vmId = (vm as { vm: { id: string } }).vm.id;
  // A deleted VM on a bridge: its answer has every nullable field filled or emptied differently.
  const gone = await (
    await fetch(`${server.url}/api/v1/vms?wait=true`, {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({ name: 'gone', cpu_cores: 1, memory_mb: 256, disk_gb: 1, network: { type: 'bridge', bridge_name: 'br0' } }),
    })
  ).json();
  deletedId = (gone as { vm: { id: string } }).vm.id;
  await fetch(`${server.url}/api/v1/vms/${deletedId}?wait=true`, { method: 'DELETE', headers: auth });
  const user = await (
    await fetch(`${server.url}/api/v1/users`, {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({ username: 'looker', role: 'viewer' }),
    })
  ).json();
  const key = await (
    await fetch(`${server.url}/api/v1/api-keys`, {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({ name: 'k', user_id: (user as { id: string }).id }),
    })
  ).json();
  viewerKey = (key as { key: string }).key;
});
afterAll(() => server?.stop());

interface Answer {
  status: number;
  type: string | null;
  vary: string | null;
  body: unknown;
}

async function ask(path: string, input: unknown, key: string | null, adapter: boolean): Promise<Answer> {
  const params = new URLSearchParams();
  if (input !== undefined) params.set('input', typeof input === 'string' ? input : JSON.stringify(input));
  if (adapter) params.set('via', 'adapter');
  const res = await fetch(`${server.url}/trpc/${path}?${params}`, {
    headers: { 'x-request-id': 'compare-1', ...(key ? { authorization: `Bearer ${key}` } : {}) },
  });
  return { status: res.status, type: res.headers.get('content-type'), vary: res.headers.get('vary'), body: await res.json() };
}

const admin = () => server.apiKey;
const CALLS: [what: string, path: string, input: () => unknown, key: () => string | null][] = [
  ['a VM', 'vms.get', () => ({ id: vmId }), admin],
  ['a VM by a viewer', 'vms.get', () => ({ id: vmId }), () => viewerKey],
  ['a VM that is not there', 'vms.get', () => ({ id: '6c7e3b27-7159-4e0a-9e30-3d44284574cd' }), admin],
  ['a malformed id', 'vms.get', () => ({ id: 'nope' }), admin],
  ['no input', 'vms.get', () => undefined, admin],
  ['no credentials', 'vms.get', () => ({ id: vmId }), () => null],
  ['a wrong key', 'vms.get', () => ({ id: vmId }), () => 'hgr_not_a_key_0123456789abcdefghij'],
  ['a deleted VM', 'vms.get', () => ({ id: deletedId }), admin],
  ['an id with more fields', 'vms.get', () => ({ id: vmId, extra: 1 }), admin],
  ['a list with filters', 'vms.list', () => ({ label: ['tier=web'], per_page: 5 }), admin],
  ['a list with deleted VMs, by a viewer', 'vms.list', () => ({ include_deleted: true, per_page: 1 }), () => viewerKey],
  ['a list with a bad filter', 'vms.list', () => ({ per_page: 5000 }), admin],
  ['a list without input', 'vms.list', () => undefined, admin],
  ['a global admin query by a viewer', 'hosts.list', () => undefined, () => viewerKey],
  ['hosts', 'hosts.list', () => undefined, admin],
  ['operations', 'operations.list', () => ({ vm_id: vmId }), admin],
  ['who am I', 'auth.whoami', () => undefined, () => viewerKey],
  ['input that is not JSON', 'vms.get', () => '{"id":', admin],
  ['a mutation by GET', 'vms.create', () => ({ name: 'x' }), admin],
  ['a procedure that does not exist', 'vms.nothing', () => undefined, admin],
];

describe('a tRPC query by GET', () => {
  for (const [what, path, input, key] of CALLS) {
    it(`answers as tRPC's adapter does: ${what}`, async () => {
      const lean = await ask(path, input(), key(), false);
      const adapter = await ask(path, input(), key(), true);
      expect(lean).toEqual(adapter);
      expect(lean.vary).toBe('trpc-accept, accept');
    });
  }

  it('answers the query, and its errors, in tRPC shape', async () => {
    const ok = await ask('vms.get', { id: vmId }, admin(), false);
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ result: { data: { id: vmId, name: 'compared' } } });
    const missing = await ask('vms.get', { id: '6c7e3b27-7159-4e0a-9e30-3d44284574cd' }, admin(), false);
    expect(missing.status).toBe(404);
    // The JSON-RPC code is NOT_FOUND's (-32004), from the procedure's error translation, not a generic internal one.
    expect(missing.body).toMatchObject({
      error: { code: -32004, data: { code: 'VM_NOT_FOUND', path: 'vms.get', request_id: 'compare-1' } },
    });
    const forbidden = await ask('hosts.list', undefined, viewerKey, false);
    expect(forbidden.status).toBe(403);
    expect(forbidden.body).toMatchObject({ error: { code: -32003, data: { code: 'FORBIDDEN' } } });
  });

  it('batches still go through the adapter', async () => {
    const input = encodeURIComponent(JSON.stringify({ 0: { id: vmId }, 1: {} }));
    const res = await fetch(`${server.url}/trpc/vms.get,vms.list?batch=1&input=${input}`, {
      headers: { authorization: `Bearer ${server.apiKey}` },
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { result: { data: unknown } }[];
    expect(body).toHaveLength(2);
    expect(body[0]!.result.data).toMatchObject({ id: vmId });

    // A batch of one names a single procedure: its answer is still a batch's.
    const one = await fetch(`${server.url}/trpc/vms.get?batch=1&input=${encodeURIComponent(JSON.stringify({ 0: { id: vmId } }))}`, {
      headers: { authorization: `Bearer ${server.apiKey}` },
    });
    expect(one.status).toBe(200);
    expect((await one.json()) as unknown[]).toMatchObject([{ result: { data: { id: vmId } } }]);
  });
});
