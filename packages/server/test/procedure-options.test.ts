import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../src/testing.js';

// What the procedures pass on to the services besides the id: filters, versions, timeouts, the
// caller's project. Each case fails if a router drops what it was given.

let server: TestServer;
const small = { cpu_cores: 1, memory_mb: 128, disk_gb: 1 };
beforeAll(async () => {
  server = await startTestServer({ worker: { poll_ms: 50 } });
});
afterAll(() => server?.stop());

const rest = async (method: string, path: string, body?: unknown, key = server.apiKey, headers: Record<string, string> = {}) => {
  const res = await fetch(`${server.url}/api/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as any };
};

async function stoppedVm(name: string) {
  const { body } = await rest('POST', '/vms?wait=true', { name, ...small });
  return body.vm as { id: string; version: number };
}

describe('procedures pass on', () => {
  it('the expected version of a change, a resize and an ISO attach', async () => {
    const vm = await stoppedVm('versioned');
    const stale = { 'If-Match': String(vm.version - 1) };
    for (const [method, path, body] of [
      ['PATCH', `/vms/${vm.id}`, { labels: { a: 'b' } }],
      ['POST', `/vms/${vm.id}/resize`, { memory_mb: 256 }],
      ['PUT', `/vms/${vm.id}/config`, { memory_mb: 256 }],
      ['POST', `/vms/${vm.id}/iso`, { iso_url: 'https://example.com/a.iso' }],
    ] as const) {
      const r = await rest(method, path, body, server.apiKey, stale);
      expect(r.status, `${method} ${path}`).toBe(409);
      expect(r.body.code, `${method} ${path}`).toBe('VERSION_CONFLICT');
    }
  });

  it('the image list filter', async () => {
    await rest('POST', '/images', { url: 'https://example.com/disk.img', kind: 'disk' });
    await rest('POST', '/images', { url: 'https://example.com/cd.iso', kind: 'iso' });
    const disks = await rest('GET', '/images?kind=disk');
    expect(disks.body.images.length).toBeGreaterThan(0);
    expect(disks.body.images.every((i: { kind: string }) => i.kind === 'disk')).toBe(true);
  });

  it('the timeout of an operation wait', async () => {
    server.driver.hypervisor.setLatency(3_000);
    try {
      const vm = await stoppedVm('slow-start');
      const { body } = await rest('POST', `/vms/${vm.id}/start`);
      const waited = await rest('GET', `/operations/${body.operation.id}/wait?timeout_ms=100`);
      expect(waited.body.timed_out).toBe(true);
    } finally {
      server.driver.hypervisor.setLatency(0);
    }
  });

  it('the caller’s project: a project admin lists its own project only, and reads no other quotas', async () => {
    const other = (await rest('POST', '/projects', { name: 'elsewhere' })).body as { id: string };
    const user = await rest('POST', '/users', {
      username: 'elsewhere-admin',
      role: 'admin',
      project_id: other.id,
      password: 'a long password',
    });
    expect(user.status).toBe(201);
    const key = await fetch(`${server.url}/api/v1/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'elsewhere/elsewhere-admin', password: 'a long password' }),
    }).then((r) => r.json() as Promise<{ access_token: string }>);
    const listed = await rest('GET', '/projects', undefined, key.access_token);
    expect(listed.body.map((p: { name: string }) => p.name)).toEqual(['elsewhere']);
    const mine = (await rest('GET', '/projects', undefined)).body.find((p: { name: string }) => p.name === 'default');
    const refused = await rest('GET', `/projects/${mine.id}/quotas`, undefined, key.access_token);
    expect(refused.status).toBe(404);
    expect(refused.body.detail).toBe(`Project with ID ${mine.id} not found`);
  });
});
