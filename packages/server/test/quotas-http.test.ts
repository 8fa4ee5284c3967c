import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../src/testing.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server?.stop());

const headers = (key: string) => ({ authorization: `Bearer ${key}`, 'content-type': 'application/json' });
const call = async (key: string, method: string, path: string, body?: unknown) => {
  const res = await fetch(`${server.url}/api/v1${path}`, {
    method,
    headers: headers(key),
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as any };
};

describe('quotas over REST', () => {
  it('are set by a global admin only, read by the project, and refuse with 403 QUOTA_EXCEEDED', async () => {
    const project = (await call(server.apiKey, 'GET', '/whoami')).body.project_id as string;
    const user = (await call(server.apiKey, 'POST', '/users', { username: 'project-admin', role: 'admin' })).body;
    const admin = (await call(server.apiKey, 'POST', '/api-keys', { name: 'pa', user_id: user.id })).body.key as string;

    expect((await call(admin, 'PUT', `/projects/${project}/quotas`, { vms: 100 })).status).toBe(403);
    const set = await call(server.apiKey, 'PUT', `/projects/${project}/quotas`, { vms: 1, cpu_cores: 4 });
    expect(set).toMatchObject({ status: 200, body: { limits: { vms: 1, cpu_cores: 4, memory_mb: null }, usage: { vms: 0 } } });
    expect((await call(admin, 'GET', `/projects/${project}/quotas`)).body.limits.vms).toBe(1);

    expect((await call(admin, 'POST', '/vms', { name: 'first', cpu_cores: 1, memory_mb: 256, disk_gb: 1 })).status).toBe(201);
    const refused = await call(admin, 'POST', '/vms', { name: 'second', cpu_cores: 1, memory_mb: 256, disk_gb: 1 });
    expect(refused).toMatchObject({ status: 403, body: { code: 'QUOTA_EXCEEDED', quota: 'vms', limit: 1, used: 1 } });
    expect((await call(admin, 'GET', `/projects/${project}/quotas`)).body.usage).toMatchObject({ vms: 1, cpu_cores: 1 });
  });
});
