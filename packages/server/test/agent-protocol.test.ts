import { createTRPCClient, httpLink, TRPCClientError } from '@trpc/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppRouter } from '../src/router.js';
import { startTestServer, TEST_ADMIN_KEY, type TestServer } from '../src/testing.js';

/**
 * The agent protocol spoken by a hostile agent (a host that was taken over): what it sends is
 * refused with a 4xx and changes nothing, and its credentials reach only its own host's work.
 * The agents here are raw tRPC clients against a real server; `fleet.test.ts` runs real ones.
 */

let server: TestServer;
const client = (key: string) =>
  createTRPCClient<AppRouter>({ links: [httpLink({ url: `${server.url}/trpc`, headers: { authorization: `Bearer ${key}` } })] });
let admin: ReturnType<typeof client>;
let token: string;

const inventory = { capacity: { cpus: 8, memory_mb: 16_384, disk_gb: 100 }, gpus: [] };

async function join(name: string, extra: Record<string, unknown> = {}) {
  const anonymous = createTRPCClient<AppRouter>({ links: [httpLink({ url: `${server.url}/trpc` })] });
  return anonymous.agent.join.mutate({ token, name, driver: 'simulated', version: 'test', inventory, ...extra } as never);
}

/** The HTTP status and code of a refused call. */
async function refusal(call: Promise<unknown>): Promise<{ status?: number; code?: string }> {
  const err = await call.then(
    () => null,
    (e: unknown) => e,
  );
  if (!(err instanceof TRPCClientError)) throw new Error(`expected a refusal, got ${JSON.stringify(err)}`);
  const data = err.data as { httpStatus?: number; code?: string };
  return { status: data.httpStatus, code: data.code };
}

beforeAll(async () => {
  server = await startTestServer({ env: { HANGAR_MAX_WAITS_PER_PRINCIPAL: '2', HANGAR_RECONCILE_INTERVAL_S: '0.2' } });
  admin = client(TEST_ADMIN_KEY);
  token = (await admin.join_tokens.create.mutate({})).token;
});
afterAll(() => server?.stop());

describe('the agent protocol, spoken by a hostile agent', () => {
  it('refuses what no host has and what the database cannot store with a 400, before anything is made', async () => {
    for (const bad of [
      { inventory: { ...inventory, capacity: { cpus: 3_000_000_000, memory_mb: 1, disk_gb: 1 } } },
      { inventory: { ...inventory, capacity: { cpus: 1, memory_mb: 2 ** 40, disk_gb: 1 } } },
      {
        inventory: {
          ...inventory,
          gpus: [
            {
              address: '0000:01:00.0',
              vendor_id: '10de',
              device_id: '1',
              vendor: 'evil\u0000',
              driver: null,
              iommu_group: 1,
              numa_node: 0,
            },
          ],
        },
      },
      { labels: { 'bad key!': 'x' } },
    ]) {
      expect(await refusal(join('hostile', bad)), JSON.stringify(bad)).toMatchObject({ status: 400, code: 'VALIDATION' });
    }
    expect((await admin.hosts.list.query()).map((h) => h.name)).not.toContain('hostile');
    // A token is needed, and a good one does not hand over a host that exists.
    expect(await refusal(join('hostile', { token: 'hgj_not-a-token' }))).toMatchObject({ status: 401 });
    expect(await refusal(join('local'))).toMatchObject({ status: 409 });
  });

  it('checks credentials before input: without them any input is a 401; with them a __proto__ key is a 400', async () => {
    const { credential } = await join('proto-checker');
    const post = (body: string, key?: string) =>
      fetch(`${server.url}/trpc/agent.report`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) },
        body,
      });
    const proto = '{"inventory":{"__proto__":{"cpus":1}}}';
    for (const [body, key, status] of [
      [proto, undefined, 401],
      ['{not json', undefined, 401],
      [proto, 'hga_not-a-credential', 401],
      [proto, credential, 400],
    ] as const) {
      expect((await post(body, key)).status, `${body} ${key ?? '(none)'}`).toBe(status);
    }
  });

  it('refuses heartbeats with a stale or impossible listing time, and endings whose data the database cannot store', async () => {
    const { credential, host_id } = await join('reporter');
    const agent = client(credential);
    for (const asked_at of ['0000-01-01T00:00:00Z', new Date(Date.now() - 3_600_000).toISOString()]) {
      expect(await refusal(agent.agent.report.mutate({ asked_at, domains: [], unavailable: null }))).toMatchObject({ status: 400 });
    }
    expect(await agent.agent.report.mutate({ asked_at: new Date().toISOString(), domains: [], unavailable: null })).toEqual({
      inventory_wanted: false,
    });
    const { operation } = await admin.vms.create.mutate({ name: 'for-reporter', memory_mb: 256, disk_gb: 1, host_id });
    const work = await agent.agent.claim.mutate({ worker_id: 'w1', wait_ms: 0 });
    expect(work?.operation.id).toBe(operation!.id);
    const ending = { worker_id: 'w1', operation_id: operation!.id, result: 'failed' as const, error: 'x' };
    for (const data of [{ note: 'nul\u0000' }, { v: ['lone \ud800'] }, { nested: [{ s: '\udc00' }] }]) {
      expect(
        await refusal(agent.agent.finish.mutate({ ...ending, outcome: { status: 'error', data: data as never } })),
        JSON.stringify(data),
      ).toMatchObject({
        status: 400,
      });
    }
    // The operation is still the agent's to end.
    expect(await agent.agent.finish.mutate({ ...ending, outcome: { status: 'error', data: { fine: 'yes' } } })).toEqual({ ended: true });
  });

  it('cannot grant a VM more than was asked: a resize takes the hardware asked for, whatever the agent reports', async () => {
    const { credential, host_id } = await join('liar');
    const agent = client(credential);
    const end = async (operation_id: string, status: 'stopped' | 'deleted', vm: Record<string, unknown>) => {
      const work = await agent.agent.claim.mutate({ worker_id: 'w1', wait_ms: 0 });
      expect(work?.operation.id).toBe(operation_id);
      return agent.agent.finish.mutate({ worker_id: 'w1', operation_id, result: 'succeeded', outcome: { status, vm } });
    };
    const created = await admin.vms.create.mutate({ name: 'modest', cpu_cores: 1, memory_mb: 256, disk_gb: 1, host_id });
    await end(created.operation!.id, 'stopped', { domain_ref: 'd-liar', cpu_cores: 200, memory_mb: 1_000_000 });
    expect(await admin.vms.get.query({ id: created.vm.id })).toMatchObject({ status: 'stopped', cpu_cores: 1, memory_mb: 256 });
    const resized = await admin.vms.resize.mutate({ id: created.vm.id, cpu_cores: 2 });
    await end(resized.operation!.id, 'stopped', { cpu_cores: 200, disk_gb: 60_000 });
    expect(await admin.vms.get.query({ id: created.vm.id })).toMatchObject({ status: 'stopped', cpu_cores: 2, disk_gb: 1 });
    const host = await admin.hosts.get.query({ id: host_id });
    expect(host.allocated).toEqual({ cpus: 2, memory_mb: 256, disk_gb: 1 });
    const deleted = await admin.vms.delete.mutate({ id: created.vm.id });
    await end(deleted.operation!.id, 'deleted', {});
    expect(await admin.vms.get.query({ id: created.vm.id })).toMatchObject({ status: 'deleted', deleted_at: expect.any(String) });
    expect((await admin.hosts.get.query({ id: host_id })).allocated).toEqual({ cpus: 0, memory_mb: 0, disk_gb: 0 });
  });

  it('moves a VM by a domain change only when it was heard after the VM last changed, and refuses a stale one', async () => {
    const { credential, host_id } = await join('late-teller');
    const agent = client(credential);
    const heardBefore = new Date().toISOString();
    const created = await admin.vms.create.mutate({ name: 'rebooted', memory_mb: 256, disk_gb: 1, host_id, start: true });
    await agent.agent.claim.mutate({ worker_id: 'w1', wait_ms: 0 });
    await agent.agent.finish.mutate({
      worker_id: 'w1',
      operation_id: created.operation!.id,
      result: 'succeeded',
      outcome: { status: 'running', vm: { domain_ref: 'd-late' } },
    });
    // The power-off heard while the operation ran (a guest reboot's), told after it ended: not drift.
    const off = { ref: 'd-late', state: 'stopped' as const, reason: 'guest shut down' };
    await agent.agent.domain_changed.mutate({ ...off, observed_at: heardBefore });
    expect((await admin.vms.get.query({ id: created.vm.id })).status).toBe('running');
    for (const observed_at of ['0000-01-01T00:00:00Z', new Date(Date.now() - 3_600_000).toISOString(), 'yesterday']) {
      expect(await refusal(agent.agent.domain_changed.mutate({ ...off, observed_at }))).toMatchObject({ status: 400 });
    }
    expect((await admin.vms.get.query({ id: created.vm.id })).status).toBe('running');
    // One heard now moves it (a clock ahead of the server's counts as now).
    await agent.agent.domain_changed.mutate({ ...off, observed_at: new Date(Date.now() + 3_600_000).toISOString() });
    expect((await admin.vms.get.query({ id: created.vm.id })).status).toBe('stopped');
  });

  it('cannot keep an operation open past its deadline by renewing its lease', async () => {
    const { credential, host_id } = await join('lingerer');
    const agent = client(credential);
    const { operation } = await admin.vms.create.mutate({ name: 'for-lingerer', memory_mb: 256, disk_gb: 1, host_id });
    await agent.agent.claim.mutate({ worker_id: 'w1', wait_ms: 0 });
    expect(await agent.agent.renew.mutate({ worker_id: 'w1', operation_id: operation!.id })).toEqual({ held: true });
    await server.database.sql`UPDATE operations SET deadline_at = now() - interval '1 minute' WHERE id = ${operation!.id}`;
    expect(await agent.agent.renew.mutate({ worker_id: 'w1', operation_id: operation!.id })).toEqual({ held: false });
  });

  it('fails an operation no agent carried out once it is past its deadline, saying why', async () => {
    const { host_id } = await join('vanished');
    const { vm, operation } = await admin.vms.create.mutate({ name: 'never-made', memory_mb: 256, disk_gb: 1, host_id });
    await server.database.sql`UPDATE operations SET deadline_at = now() - interval '2 minutes' WHERE id = ${operation!.id}`;
    const { operation: ended } = await admin.operations.wait.query({ id: operation!.id, timeout_ms: 10_000 });
    expect(ended).toMatchObject({ status: 'failed', error: expect.stringMatching(/host vanished did not carry it out/) });
    expect((await admin.vms.get.query({ id: vm.id })).status).toBe('error');
  });

  it('holds a bounded number of claims per host at once (429 beyond)', async () => {
    const { credential } = await join('greedy');
    const agent = client(credential);
    const held = [
      agent.agent.claim.mutate({ worker_id: 'w1', wait_ms: 2_000 }),
      agent.agent.claim.mutate({ worker_id: 'w2', wait_ms: 2_000 }),
    ];
    await new Promise((r) => setTimeout(r, 200));
    expect(await refusal(agent.agent.claim.mutate({ worker_id: 'w3', wait_ms: 2_000 }))).toMatchObject({ status: 429 });
    expect(await Promise.all(held)).toEqual([null, null]);
  });

  it('reads only images an image-reading operation on its own host needs', async () => {
    const iso = Buffer.concat([Buffer.alloc(32769), Buffer.from('CD001'), Buffer.alloc(8186)]);
    const up = await fetch(`${server.url}/api/v1/images/upload?name=p.iso&kind=iso`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TEST_ADMIN_KEY}`, 'content-type': 'application/octet-stream' },
      body: iso,
    });
    const image = (await up.json()) as { id: string };
    const mine = await join('reader');
    const other = await join('bystander');
    const read = (credential: string) =>
      fetch(`${server.url}/agent/v1/images/${image.id}/content`, { headers: { authorization: `Bearer ${credential}` } }).then(
        (r) => r.status,
      );
    // A create on `reader` made from the image: reader may read it, bystander may not.
    const { vm, operation } = await admin.vms.create.mutate({
      name: 'reads-iso',
      memory_mb: 256,
      disk_gb: 1,
      host_id: mine.host_id,
      image_id: image.id,
    });
    expect(await read(mine.credential)).toBe(200);
    expect(await read(other.credential)).toBe(404);
    // Once the create is over, an operation that reads no image (a start) opens nothing.
    const agent = client(mine.credential);
    await agent.agent.claim.mutate({ worker_id: 'w1', wait_ms: 0 });
    await agent.agent.finish.mutate({
      worker_id: 'w1',
      operation_id: operation!.id,
      result: 'succeeded',
      outcome: { status: 'stopped', vm: { domain_ref: 'd-1' } },
    });
    const start = await admin.vms.start.mutate({ id: vm.id });
    expect(start.operation?.status).toBe('pending');
    expect(await read(mine.credential)).toBe(404);
  });
});
