import { request } from 'node:http';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, TEST_ADMIN_PASSWORD, type TestServer } from '../src/testing.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ limiter: { freeAttempts: 3, freePerAddress: 12, baseDelayMs: 60_000 } });
});
afterAll(() => server?.stop());

/** A raw tRPC call over HTTP, so the test sees exactly what any client sees. */
async function call(path: string, opts: { token?: string; input?: unknown; mutation?: boolean } = {}) {
  const headers: Record<string, string> = {};
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  const url = new URL(`${server.url}/trpc/${path}`);
  let res: Response;
  if (opts.mutation) {
    headers['content-type'] = 'application/json';
    res = await fetch(url, { method: 'POST', headers, body: JSON.stringify(opts.input ?? {}) });
  } else {
    if (opts.input !== undefined) url.searchParams.set('input', JSON.stringify(opts.input));
    res = await fetch(url, { headers });
  }
  const body = (await res.json()) as { result?: { data: any }; error?: { message: string; data: any } };
  return { status: res.status, body, data: body.result?.data, error: body.error, requestId: res.headers.get('x-request-id') };
}

async function keyFor(role: 'viewer' | 'operator' | 'admin', username = `${role}-${Math.random().toString(36).slice(2, 8)}`) {
  const user = await call('users.create', { token: server.apiKey, mutation: true, input: { username, role } });
  const key = await call('api_keys.create', { token: server.apiKey, mutation: true, input: { name: 'k', user_id: user.data.id } });
  return key.data.key as string;
}

describe('authentication', () => {
  it('answers 401 without credentials, with a wrong key, with a garbage token', async () => {
    for (const token of [undefined, 'hgr_not_a_real_key_at_all_000000', 'eyJhbGciOiJIUzI1NiJ9.e30.x']) {
      const r = await call('vms.list', { token });
      expect(r.status, String(token)).toBe(401);
      expect(r.error?.data.code).toBe('UNAUTHENTICATED');
      expect(r.requestId).toBeTruthy();
    }
  });

  it('answers 401 for a revoked key', async () => {
    const created = await call('api_keys.create', { token: server.apiKey, mutation: true, input: { name: 'short-lived' } });
    expect((await call('auth.whoami', { token: created.data.key })).status).toBe(200);
    await call('api_keys.revoke', { token: server.apiKey, mutation: true, input: { id: created.data.api_key.id } });
    const r = await call('auth.whoami', { token: created.data.key });
    expect(r.status).toBe(401);
    expect(r.error?.message).toMatch(/revoked/);
  });

  it('issues access tokens for a password and refuses an expired or forged one', async () => {
    const ok = await call('auth.token', { mutation: true, input: { username: 'admin', password: TEST_ADMIN_PASSWORD } });
    expect(ok.data).toMatchObject({ token_type: 'bearer', expires_in: 3600 });
    expect((await call('auth.whoami', { token: ok.data.access_token })).data).toMatchObject({ username: 'admin', via: 'jwt' });

    const secret = await server.controlPlane.services.auth.setting('jwt_secret');
    const key = new TextEncoder().encode(secret);
    const expired = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(server.bootstrap.admin.id)
      .setIssuer('hangar')
      .setExpirationTime(Math.floor(Date.now() / 1000) - 10)
      .sign(key);
    const r = await call('auth.whoami', { token: expired });
    expect(r.status).toBe(401);
    expect(r.error?.message).toMatch(/expired/);
    const forged = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(server.bootstrap.admin.id)
      .setIssuer('hangar')
      .setExpirationTime('1h')
      .sign(new TextEncoder().encode('x'.repeat(40)));
    expect((await call('auth.whoami', { token: forged })).status).toBe(401);
  });

  it('refuses a wrong password with 401, then makes that address wait (429)', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) {
      statuses.push((await call('auth.token', { mutation: true, input: { username: 'victim', password: 'wrong-password' } })).status);
    }
    expect(statuses).toEqual([401, 401, 401, 429]);
    const limited = await call('auth.token', { mutation: true, input: { username: 'victim', password: 'wrong-password' } });
    expect(limited.error?.data).toMatchObject({ code: 'RATE_LIMITED', should_retry: true });
    expect(limited.error?.data.retry_after_s).toBeGreaterThan(0);
  });

  it('counts parallel guesses before checking them: 100 at once run at most 3 password checks', async () => {
    // Count the password checks the server really runs (the service the authenticator calls).
    const auth = server.controlPlane.services.auth;
    const check = auth.password;
    let checks = 0;
    auth.password = (...args) => {
      checks++;
      return check(...args);
    };
    const guesses = await Promise.all(
      Array.from({ length: 100 }, () =>
        call('auth.token', { mutation: true, input: { username: 'parallel', password: 'wrong-password' } }),
      ),
    ).finally(() => (auth.password = check));
    expect(checks).toBe(3);
    const statuses = guesses.map((g) => g.status);
    expect(statuses.filter((s) => s === 401)).toHaveLength(3);
    expect(statuses.filter((s) => s === 429)).toHaveLength(97);
  });

  it('takes one sign-in per request: a batch of them is refused, and batches are bounded', async () => {
    const n = 200;
    const path = Array.from({ length: n }, () => 'auth.token').join(',');
    const input = Object.fromEntries(Array.from({ length: n }, (_, i) => [i, { username: 'batched', password: 'wrong-password' }]));
    const big = await fetch(`${server.url}/trpc/${path}?batch=1`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(input),
    });
    expect(big.status).toBe(400); // over the batch limit: nothing ran
    const ten = await fetch(`${server.url}/trpc/${path.split(',').slice(0, 10).join(',')}?batch=1`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(Object.fromEntries(Object.entries(input).slice(0, 10))),
    });
    const answers = (await ten.json()) as { error?: { message: string; data: { code: string; fields?: unknown } } }[];
    // The first is checked (a wrong password); the other nine are refused unchecked.
    expect(answers.map((a) => a.error?.data.code)).toEqual(['UNAUTHENTICATED', ...Array(9).fill('VALIDATION')]);
    expect(answers[1]!.error).toMatchObject({
      message: 'One sign-in per request: send auth.token on its own',
      data: { fields: [{ path: '(batch)', message: 'more than one auth.token call' }] },
    });
  });

  it('does not lock the owner out: guesses from one address do not slow another', async () => {
    for (let i = 0; i < 5; i++) await call('auth.token', { mutation: true, input: { username: 'admin', password: 'wrong-password' } });
    expect((await call('auth.token', { mutation: true, input: { username: 'admin', password: TEST_ADMIN_PASSWORD } })).status).toBe(429);
    // The owner, elsewhere (127.0.0.2 is another address of this machine's loopback).
    const body = JSON.stringify({ username: 'admin', password: TEST_ADMIN_PASSWORD });
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(
        `${server.url}/trpc/auth.token`,
        { method: 'POST', localAddress: '127.0.0.2', headers: { 'content-type': 'application/json' } },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on('error', reject);
      req.end(body);
    });
    expect(status).toBe(200);
  });

  it('refuses access tokens without an expiry or whose subject is not a user id', async () => {
    const secret = new TextEncoder().encode(await server.controlPlane.services.auth.setting('jwt_secret'));
    const noExpiry = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(server.bootstrap.admin.id)
      .setIssuer('hangar')
      .sign(secret);
    const badSubject = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('not-a-uuid')
      .setIssuer('hangar')
      .setExpirationTime('1h')
      .sign(secret);
    for (const token of [noExpiry, badSubject]) {
      const r = await call('auth.whoami', { token });
      expect(r.status).toBe(401);
      expect(r.error?.data.code).toBe('UNAUTHENTICATED');
    }
  });
});

describe('authorization', () => {
  it('lets a viewer read but not write (403)', async () => {
    const viewer = await keyFor('viewer');
    expect((await call('vms.list', { token: viewer })).status).toBe(200);
    const r = await call('vms.create', { token: viewer, mutation: true, input: { name: 'nope' } });
    expect(r.status).toBe(403);
    expect(r.error?.data.code).toBe('FORBIDDEN');
    expect((await call('users.list', { token: viewer })).status).toBe(403);
    expect((await call('projects.create', { token: viewer, mutation: true, input: { name: 'x' } })).status).toBe(403);
  });

  it('lets an operator change VMs but not manage users', async () => {
    const operator = await keyFor('operator');
    const r = await call('vms.create', {
      token: operator,
      mutation: true,
      input: { name: 'op-made', memory_mb: 256, disk_gb: 1, cpu_cores: 1 },
    });
    expect(r.status).toBe(200);
    expect((await call('users.create', { token: operator, mutation: true, input: { username: 'sneaky', role: 'admin' } })).status).toBe(
      403,
    );
    // Nor grant itself a stronger key.
    expect((await call('api_keys.create', { token: operator, mutation: true, input: { name: 'up', role: 'admin' } })).status).toBe(403);
  });

  it('hides another project’s VMs behind 404, never 403', async () => {
    const project = await call('projects.create', { token: server.apiKey, mutation: true, input: { name: 'tenant-b' } });
    const user = await call('users.create', {
      token: server.apiKey,
      mutation: true,
      input: { username: 'b-admin', role: 'admin', project_id: project.data.id },
    });
    const keyB = (await call('api_keys.create', { token: server.apiKey, mutation: true, input: { name: 'b', user_id: user.data.id } })).data
      .key;
    const mine = await call('vms.create', {
      token: server.apiKey,
      mutation: true,
      input: { name: 'tenant-a-vm', memory_mb: 256, disk_gb: 1, cpu_cores: 1 },
    });
    const id = mine.data.vm.id;
    for (const [path, mutation] of [
      ['vms.get', false],
      ['vms.events', false],
      ['vms.start', true],
      ['vms.delete', true],
      ['vms.update', true],
    ] as const) {
      const input = path === 'vms.update' ? { id, labels: { x: 'y' } } : { id };
      const r = await call(path, { token: keyB, mutation, input });
      expect(r.status, path).toBe(404);
      expect(r.error?.message).toBe(`VM with ID ${id} not found`);
    }
    const op = mine.data.operation.id;
    expect((await call('operations.get', { token: keyB, input: { id: op } })).status).toBe(404);
    expect((await call('vms.list', { token: keyB })).data.total).toBe(0);
    // And the VM is untouched.
    expect((await call('vms.get', { token: server.apiKey, input: { id } })).data.labels).toEqual({});
  });
});
