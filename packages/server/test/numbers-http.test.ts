import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../src/testing.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server?.stop());

const call = async (method: string, path: string, body?: unknown) => {
  const res = await fetch(`${server.url}/api/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${server.apiKey}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as any };
};
const names = (page: { vms: { name: string }[] }) => page.vms.map((v) => v.name);

describe('VM and host numbers over REST', () => {
  it('numbers VMs 1, 2, 3 and lists them by ?number= and ?name=', async () => {
    const created = [];
    for (const name of ['alpha', 'beta', 'gamma']) {
      const r = await call('POST', '/vms', { name, cpu_cores: 1, memory_mb: 256, disk_gb: 1 });
      expect(r.status).toBe(201);
      created.push(r.body.vm);
    }
    expect(created.map((v) => v.number)).toEqual([1, 2, 3]);
    expect((await call('GET', `/vms/${created[1].id}`)).body.number).toBe(2);

    const byNumber = await call('GET', '/vms?number=2');
    expect(byNumber.status).toBe(200);
    expect(names(byNumber.body)).toEqual(['beta']);
    expect(byNumber.body.vms[0].number).toBe(2);
    expect(names((await call('GET', '/vms?name=gamma')).body)).toEqual(['gamma']);
    expect((await call('GET', '/vms?name=gam')).body.total).toBe(0);
    expect((await call('GET', '/vms?number=4')).body.total).toBe(0);
    // tRPC takes the same filter.
    const url = new URL(`${server.url}/trpc/vms.list`);
    url.searchParams.set('input', JSON.stringify({ number: 3 }));
    const trpc = (await (await fetch(url, { headers: { authorization: `Bearer ${server.apiKey}` } })).json()) as any;
    expect(names(trpc.result.data)).toEqual(['gamma']);
  });

  it('refuses a number that is not a positive integer with 400, changing nothing', async () => {
    // Compared once the creates above are carried out: the worker finishing one meanwhile is a change, but not the refusals'.
    const settled = async () => {
      const page = (await call('GET', '/vms?per_page=100')).body;
      return page.vms.every((v: { current_operation_id: string | null }) => v.current_operation_id === null) ? page : null;
    };
    await expect.poll(settled, { timeout: 15_000, interval: 50 }).not.toBeNull();
    const before = (await settled())!;
    for (const bad of ['0', '-1', 'abc', '1.5', '2147483648', '']) {
      const r = await call('GET', `/vms?number=${encodeURIComponent(bad)}`);
      expect(r.status, `number=${bad}`).toBe(400);
      expect(r.body.code, `number=${bad}`).toBe('VALIDATION');
      expect(
        r.body.fields.map((f: { path: string }) => f.path),
        `number=${bad}`,
      ).toEqual(['number']);
    }
    expect((await call('GET', '/vms?name=Not_A_Name')).status).toBe(400);
    expect((await call('GET', '/vms?per_page=100')).body).toEqual(before);
    // The counter did not move either.
    expect((await call('POST', '/vms', { name: 'delta', cpu_cores: 1, memory_mb: 256, disk_gb: 1 })).body.vm.number).toBe(4);
  });

  it('numbers hosts, and takes a host number wherever a host is named', async () => {
    const hosts = (await call('GET', '/hosts')).body as { id: string; name: string; number: number }[];
    expect(hosts).toHaveLength(1);
    const host = hosts[0]!;
    expect(host.number).toBe(1);
    expect((await call('GET', `/hosts/${host.number}`)).body).toMatchObject({ id: host.id, name: host.name, number: 1 });
    expect((await call('GET', '/hosts/2')).status).toBe(404);

    const all = (await call('GET', '/vms?per_page=100')).body;
    expect(all.total).toBeGreaterThan(0);
    const onHost = await call('GET', `/vms?server_id=${host.number}&per_page=100`);
    expect(onHost.status).toBe(200);
    expect(onHost.body.total).toBe(all.total);
    expect((await call('GET', `/vms?host_id=${host.number}&per_page=100`)).body.total).toBe(all.total);
    expect((await call('GET', '/vms?server_id=2')).body.total).toBe(0);

    const placed = await call('POST', '/vms', { name: 'placed', cpu_cores: 1, memory_mb: 256, disk_gb: 1, host_id: String(host.number) });
    expect(placed.status).toBe(201);
    expect(placed.body.vm.host_id).toBe(host.id);
  });
});
