import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../src/testing.js';

// Usernames are unique per project: creating one never tells a tenant that another project
// has a user of that name, and signing in finds the right one.

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server?.stop());

const call = async (key: string | null, method: string, path: string, body?: unknown) => {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (key) headers.authorization = `Bearer ${key}`;
  const res = await fetch(`${server.url}/api/v1${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as any };
};

async function projectAdmin(project: string | null, username: string): Promise<string> {
  const user = await call(server.apiKey, 'POST', '/users', { username, role: 'admin', ...(project ? { project_id: project } : {}) });
  return (await call(server.apiKey, 'POST', '/api-keys', { name: 'k', user_id: user.body.id })).body.key;
}

describe('usernames', () => {
  it('are unique per project only, and sign-in finds the user the password belongs to', async () => {
    const other = (await call(server.apiKey, 'POST', '/projects', { name: 'elsewhere' })).body.id as string;
    const adminA = await projectAdmin(null, 'admin-a');
    const adminB = await projectAdmin(other, 'admin-b');

    expect((await call(adminA, 'POST', '/users', { username: 'bob', password: 'password-of-a', role: 'viewer' })).status).toBe(201);
    // Project B cannot learn that project A has a bob: its own bob is simply made.
    expect((await call(adminB, 'POST', '/users', { username: 'bob', password: 'password-of-b', role: 'viewer' })).status).toBe(201);
    const again = await call(adminA, 'POST', '/users', { username: 'bob', role: 'viewer' });
    expect(again).toMatchObject({ status: 409, body: { code: 'NAME_TAKEN', detail: "A user named 'bob' already exists in this project" } });

    const whoami = async (username: string, password: string) => {
      const token = await call(null, 'POST', '/token', { username, password });
      if (token.status !== 200) return token.status;
      return (await call(token.body.access_token, 'GET', '/whoami')).body.project_id as string;
    };
    const projectA = (await call(adminA, 'GET', '/whoami')).body.project_id;
    expect(await whoami('bob', 'password-of-a')).toBe(projectA);
    expect(await whoami('bob', 'password-of-b')).toBe(other);
    expect(await whoami('elsewhere/bob', 'password-of-b')).toBe(other);
    expect(await whoami('default/bob', 'password-of-b')).toBe(401);
    expect(await whoami('nobody', 'password-of-b')).toBe(401);
  });
});
