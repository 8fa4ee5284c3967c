import { serveFiles } from '@hangar/core/testing';
import { startTestServer, type TestServer } from '@hangar/server/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, HangarError } from '../src/index.js';

let server: TestServer;
let files: Awaited<ReturnType<typeof serveFiles>>;
let client: Client;
beforeAll(async () => {
  // 100 bytes, one every 6 ms: a download of about 0.6 s.
  files = await serveFiles({
    '/slow.iso': { body: Buffer.alloc(100, 1), trickle_ms: 6 },
    '/slower.iso': { body: Buffer.alloc(100, 2), trickle_ms: 20 },
  });
  // The files are on loopback, which image URLs may reach only when allowed.
  server = await startTestServer({ env: { HANGAR_IMAGE_ALLOW_HOSTS: '127.0.0.1' } });
  client = new Client({ base_url: server.url, api_key: server.apiKey });
});
afterAll(async () => {
  await server?.stop();
  await files?.close();
});

describe('waitForImage', () => {
  it('answers when the download ends, by long-poll', async () => {
    const image = await client.registerImage({ url: `${files.url}/slow.iso` });
    expect(image.status).not.toBe('ready');
    // The download takes ~0.6 s. Woken by the downloader's notice, the wait ends then; without
    // it, only at its timeout (a last look finds the image ready), so the bound is generous.
    const asked = Date.now();
    expect(await client.waitForImage(image.id, { timeout_ms: 10_000 })).toMatchObject({ id: image.id, status: 'ready' });
    expect(Date.now() - asked).toBeLessThan(5_000);
  });

  it('throws IMAGE_FAILED for a download that failed, and TIMEOUT when time runs out', async () => {
    const missing = await client.registerImage({ url: `${files.url}/nope.iso` });
    const err = await client.waitForImage(missing.id, { timeout_ms: 20_000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HangarError);
    expect(err).toMatchObject({ code: 'IMAGE_FAILED', message: expect.stringContaining('HTTP 404') });

    const slow = await client.registerImage({ url: `${files.url}/slower.iso` });
    await expect(client.waitForImage(slow.id, { timeout_ms: 50 })).rejects.toMatchObject({ code: 'TIMEOUT' });
  });
});
