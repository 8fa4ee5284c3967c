import { request } from 'node:http';
import { BAD_ARCHIVES, goodArchive } from '@hangar/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../src/testing.js';

// One request must never take the process down: every refused archive, sent raw or as a
// multipart form, is answered 400, and the server answers the next request.

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ sim_bytes_per_gb: 2 ** 20 });
});
afterAll(() => server?.stop());

const auth = () => ({ authorization: `Bearer ${server.apiKey}` });
const alive = async () => (await fetch(`${server.url}/healthz`)).status;

async function vmCount(): Promise<number> {
  return (await server.database.sql`SELECT count(*)::int AS n FROM vms`)[0]!.n as number;
}

describe('refused archives', () => {
  for (const bad of BAD_ARCHIVES) {
    it(`${bad.what}: 400, nothing made, and the server lives`, async () => {
      const before = await vmCount();
      const body = await bad.build();
      const raw = await fetch(`${server.url}/api/v1/vms/import?name=never`, {
        method: 'POST',
        headers: { ...auth(), 'content-type': 'application/x-tar' },
        body,
      });
      expect(raw.status).toBe(400);
      expect(await raw.json()).toMatchObject({ code: 'INVALID_ARCHIVE', detail: expect.stringMatching(bad.message) });
      expect(await alive()).toBe(200);

      const form = new FormData();
      form.append('file', new Blob([body]), 'vm.tar');
      const multipart = await fetch(`${server.url}/api/v1/vms/import?name=never`, { method: 'POST', headers: auth(), body: form });
      expect(multipart.status).toBe(400);
      expect(await alive()).toBe(200);
      expect(await vmCount()).toBe(before);
    });
  }

  it('survives a client that hangs up halfway through an upload, raw or multipart', async () => {
    const body = await goodArchive();
    for (const type of ['application/x-tar', 'multipart/form-data; boundary=xyz']) {
      await new Promise<void>((resolve) => {
        const req = request(`${server.url}/api/v1/vms/import`, {
          method: 'POST',
          headers: { ...auth(), 'content-type': type, 'content-length': String(body.length * 4) },
        });
        req.on('error', () => resolve());
        req.on('response', () => resolve());
        req.write(
          type.startsWith('multipart')
            ? Buffer.concat([
                Buffer.from('--xyz\r\nContent-Disposition: form-data; name="file"; filename="a.tar"\r\n\r\n'),
                body.subarray(0, 600),
              ])
            : body.subarray(0, 600),
        );
        setTimeout(() => {
          req.destroy();
          resolve();
        }, 200);
      });
      await new Promise((r) => setTimeout(r, 200));
      expect(await alive()).toBe(200);
    }
  });

  it('accepts the well-formed archive the bad ones differ from', async () => {
    const res = await fetch(`${server.url}/api/v1/vms/import`, {
      method: 'POST',
      headers: { ...auth(), 'content-type': 'application/x-tar' },
      body: await goodArchive(),
    });
    expect(res.status).toBe(201);
  });
});
