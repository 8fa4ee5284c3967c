import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../src/testing.js';

// Inputs that once made the server answer 500: each is the client's mistake, answered 4xx, and
// changes nothing. And the converse: a server fault is a 500, never blamed on the client.

let server: TestServer;
let vmId: string;
const auth = () => ({ authorization: `Bearer ${server.apiKey}` });
const json = () => ({ ...auth(), 'content-type': 'application/json' });

beforeAll(async () => {
  server = await startTestServer();
  const res = await fetch(`${server.url}/api/v1/vms?wait=true`, {
    method: 'POST',
    headers: json(),
    body: JSON.stringify({ name: 'target', cpu_cores: 1, memory_mb: 256, disk_gb: 1 }),
  });
  vmId = ((await res.json()) as { vm: { id: string } }).vm.id;
});
afterAll(() => server?.stop());

async function snapshot() {
  const sql = server.database.sql;
  const tables = ['vms', 'operations', 'events', 'idempotency_keys', 'users', 'api_keys', 'projects', 'images'];
  return Object.fromEntries(await Promise.all(tables.map(async (t) => [t, await sql.unsafe(`SELECT * FROM ${t} ORDER BY 1`)])));
}

const cursorOf = (ms: unknown) => Buffer.from(JSON.stringify([ms, '6c7e3b27-7159-4e0a-9e30-3d44284574cd'])).toString('base64url');

describe('client input that reached the database', () => {
  it('is refused with 400 and changes nothing: NUL bytes, unpaired surrogates, cursors out of range', async () => {
    const cases: [string, string, unknown][] = [
      ['POST', '/api/v1/vms', { name: 'nul-os', os_version: 'a\u0000b' }],
      ['POST', '/api/v1/vms', { name: 'lone-surrogate', labels: { k: 'a\ud800b' } }],
      ['POST', '/api/v1/vms', { name: 'low-surrogate', os_version: '\udc00' }],
      ['PATCH', `/api/v1/vms/${vmId}`, { labels: { k: '\ud83d' } }],
      ['POST', '/api/v1/api-keys', { name: 'key\u0000name' }],
      ['GET', `/api/v1/vms?search=${encodeURIComponent('a\u0000b')}`, undefined],
      ['GET', `/api/v1/vms?cursor=${cursorOf(1e20)}`, undefined],
      ['GET', `/api/v1/vms?cursor=${cursorOf(-8.64e15)}`, undefined],
      ['GET', `/api/v1/vms?cursor=${cursorOf(1.5)}`, undefined],
      ['GET', `/api/v1/operations?cursor=${cursorOf(9e15)}`, undefined],
      ['POST', `/api/v1/images/upload?name=${encodeURIComponent('a\u0000.iso')}`, undefined],
      // Hashed as UTF-8, every lone surrogate is U+FFFD: '\ud800…' and '\udfff…' would be one password.
      ['POST', '/api/v1/users', { username: 'lone-pw', password: '\ud800aaaaaaaaa' }],
      ['POST', '/api/v1/users', { username: 'nul-pw', password: 'aaaaaaaaaa\u0000' }],
      ['POST', '/api/v1/token', { username: 'admin', password: '\udfffaaaaaaaaa' }],
    ];
    const before = await snapshot();
    for (const [method, path, body] of cases) {
      const res = await fetch(`${server.url}${path}`, {
        method,
        headers: json(),
        body: body === undefined ? (method === 'POST' ? 'x' : undefined) : JSON.stringify(body),
      });
      expect(res.status, `${method} ${path} ${JSON.stringify(body)}`).toBe(400);
      expect(((await res.json()) as { code: string }).code).toBe('VALIDATION');
    }
    expect(await snapshot()).toEqual(before);
  });

  it('refuses a malformed %-escape in a REST path with 400, before and after authentication', async () => {
    for (const headers of [{}, auth()]) {
      const res = await fetch(`${server.url}/api/v1/vms/%E0%A4%A`, { headers });
      expect(res.status).toBeGreaterThanOrEqual(400);
      expect(res.status).toBeLessThan(500);
    }
  });

  it('keeps an image URL with a malformed %-escape as its name says, not a 500', async () => {
    const res = await fetch(`${server.url}/api/v1/images`, {
      method: 'POST',
      headers: json(),
      body: JSON.stringify({ url: 'http://example.com/dir/%zz.iso' }),
    });
    expect(res.status).toBe(201);
    expect(((await res.json()) as { name: string }).name).toBe('%zz.iso');
  });
});

describe('a server fault', () => {
  it('is a 500, not a 400, when a stored row fails the output schema', async () => {
    // A row no input could have made (written behind the API's back, or by an older version).
    await server.database.sql`UPDATE vms SET name = 'Not A DNS Label' WHERE id = ${vmId}`;
    try {
      for (const path of ['/api/v1/vms', `/api/v1/vms/${vmId}`]) {
        const res = await fetch(`${server.url}${path}`, { headers: auth() });
        expect(res.status, path).toBe(500);
        expect(await res.json()).toMatchObject({ code: 'INTERNAL', detail: 'Internal server error' });
      }
      const trpc = await fetch(`${server.url}/trpc/vms.list`, { headers: auth() });
      expect(trpc.status).toBe(500);
    } finally {
      await server.database.sql`UPDATE vms SET name = 'target' WHERE id = ${vmId}`;
    }
  });
});
