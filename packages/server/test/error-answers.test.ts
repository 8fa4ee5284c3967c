import { ERROR_CODES, HangarError } from '@hangar/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HTTP_STATUS } from '../src/errors/http-status.js';
import { shouldRetry } from '../src/errors/to-hangar-error.js';
import { startTestServer, type TestServer } from '../src/testing.js';

// Every error answer, whoever writes it (a procedure, an unknown route, the body limit), has
// one shape: the code, a request id, the status of that code and the retry hint.

describe('error codes', () => {
  it('each have a status; only server faults are 5xx', () => {
    expect(Object.keys(HTTP_STATUS).sort()).toEqual([...ERROR_CODES].sort());
    const fives = Object.entries(HTTP_STATUS)
      .filter(([, s]) => s >= 500)
      .map(([c]) => c)
      .sort();
    expect(fives).toEqual(['DATABASE_UNAVAILABLE', 'HOST_UNAVAILABLE', 'INSUFFICIENT_CAPACITY', 'INTERNAL', 'SHUTTING_DOWN']);
    for (const s of Object.values(HTTP_STATUS)) expect(s >= 400 && s < 600).toBe(true);
  });

  it('are retryable when rate-limited or a server fault, unless the error says otherwise', () => {
    expect(shouldRetry(new HangarError('RATE_LIMITED', 'x'))).toBe(true);
    expect(shouldRetry(new HangarError('HOST_UNAVAILABLE', 'x'))).toBe(true);
    expect(shouldRetry(new HangarError('INTERNAL', 'x', { retryable: false }))).toBe(false);
    expect(shouldRetry(new HangarError('NAME_TAKEN', 'x'))).toBe(false);
    expect(shouldRetry(new HangarError('VALIDATION', 'x', { retryable: true }))).toBe(true);
  });
});

describe('error answers', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(() => server?.stop());

  const expectShape = async (res: Response, status: number, code: string, retry: boolean) => {
    expect(res.status).toBe(status);
    expect(res.headers.get('x-should-retry')).toBe(String(retry));
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ code, detail: expect.any(String) });
    expect(body.request_id).toBe(res.headers.get('x-request-id'));
    expect(body.request_id).toEqual(expect.any(String));
  };

  it('for an unknown route', async () => {
    await expectShape(await fetch(`${server.url}/api/v1/nowhere`), 404, 'NOT_FOUND', false);
    await expectShape(await fetch(`${server.url}/no/such/page`), 404, 'NOT_FOUND', false);
  });

  it('for a body over the limit, over REST and tRPC: 413 PAYLOAD_TOO_LARGE', async () => {
    const big = JSON.stringify({ name: 'x'.repeat(5 * 2 ** 20) });
    const headers = { 'content-type': 'application/json', authorization: `Bearer ${server.apiKey}` };
    await expectShape(await fetch(`${server.url}/api/v1/vms`, { method: 'POST', headers, body: big }), 413, 'PAYLOAD_TOO_LARGE', false);
    await expectShape(
      await fetch(`${server.url}/trpc/vms.create`, { method: 'POST', headers, body: big }),
      413,
      'PAYLOAD_TOO_LARGE',
      false,
    );
  });

  it('for a procedure refusing', async () => {
    const res = await fetch(`${server.url}/api/v1/vms/6c7e3b27-7159-4e0a-9e30-3d44284574cd`, {
      headers: { authorization: `Bearer ${server.apiKey}` },
    });
    await expectShape(res, 404, 'VM_NOT_FOUND', false);
  });
});
