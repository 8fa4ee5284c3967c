import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ensureProject, type Image, silentLogger, UrlPolicy } from '../src/index.js';
import {
  createTestDatabase,
  firstWords,
  StatementLog,
  serveFiles,
  startTestControlPlane,
  type TestControlPlane,
} from '../src/testing/index.js';
import { ImageDownloader } from '../src/worker/image-downloads.js';

// Image URLs are tenants' input: by default they may lead only to public addresses, and one
// tenant's slow downloads may not hold the slots others need.

const body = randomBytes(4096);
let files: Awaited<ReturnType<typeof serveFiles>>;
let port: string;
let cp: TestControlPlane | undefined;

beforeAll(async () => {
  files = await serveFiles({
    '/disk.img': { body },
    '/to-v6-loopback': { redirect: 'http://[::1]:9/disk.img' },
    '/to-metadata': { redirect: 'http://169.254.169.254/latest/meta-data/' },
    '/to-localhost': { redirect: '/via-name' },
    '/trickle.img': { body: randomBytes(64), trickle_ms: 400 },
    '/steady.img': { body: randomBytes(200 * 1024), trickle_ms: 1 },
  });
  port = new URL(files.url).port;
});
afterAll(() => files?.close());
afterEach(async () => {
  await cp?.shutdown();
  cp = undefined;
});

async function settled(c: TestControlPlane, id: string, scope = c.scope): Promise<Image> {
  let image: Image | undefined;
  await expect
    .poll(
      async () => {
        image = await c.services.images.get(scope, id);
        return image.status;
      },
      { timeout: 15_000 },
    )
    .toMatch(/^(ready|error)$/);
  return image!;
}

describe('where image URLs may lead', () => {
  it('refuses loopback, unspecified, link-local and decimal-IP URLs by default, and redirects to them', async () => {
    cp = await startTestControlPlane();
    const refused: [string, RegExp][] = [
      [`http://127.0.0.1:${port}/disk.img`, /127\.0\.0\.1 is a loopback address/],
      [`http://[::1]:${port}/disk.img`, /::1 is a loopback address/],
      // A name is judged on what it resolves to, by the policy's own lookup.
      [`http://localhost:${port}/disk.img`, /localhost is refused: (127\.0\.0\.1|::1) is a loopback address/],
      // IPv6 that ipaddr.js calls unicast but no public host has: site-local, IPv4-compatible
      // (127.0.0.1 inside), local-use NAT64.
      [`http://[fec0::7]:${port}/disk.img`, /fec0::7 is not a global unicast address/],
      [`http://[::127.0.0.1]:${port}/disk.img`, /::7f00:1 is not a global unicast address/],
      [`http://[64:ff9b:1::7f00:1]:${port}/disk.img`, /64:ff9b:1::7f00:1 is not a global unicast address/],
      [`http://0.0.0.0:${port}/disk.img`, /0\.0\.0\.0 is a unspecified address/],
      [`http://2130706433:${port}/disk.img`, /127\.0\.0\.1 is a loopback address/],
      ['http://169.254.169.254/latest/meta-data/', /169\.254\.169\.254 is a linkLocal address/],
      [`http://10.1.2.3:${port}/disk.img`, /10\.1\.2\.3 is a private address/],
    ];
    for (const [url, why] of refused) {
      const { image } = await cp.services.images.register(cp.scope, { url, kind: 'disk' });
      const done = await settled(cp, image.id);
      expect(done.status, url).toBe('error');
      expect(done.error, url).toMatch(why);
    }
    expect(files.hits.get('/disk.img') ?? 0).toBe(0);
  });

  it('lets an operator allow a mirror by address or name, and still checks every redirect', async () => {
    cp = await startTestControlPlane({ controlPlane: { image_downloads: { url_policy: new UrlPolicy(['127.0.0.1/32']) } } });
    const ok = (await cp.services.images.register(cp.scope, { url: `${files.url}/disk.img`, kind: 'disk' })).image;
    expect(await settled(cp, ok.id)).toMatchObject({ status: 'ready', size_bytes: body.length });
    for (const [path, why] of [
      ['/to-v6-loopback', /::1 is a loopback address/],
      ['/to-metadata', /169\.254\.169\.254 is a linkLocal address/],
    ] as const) {
      const { image } = await cp.services.images.register(cp.scope, { url: `${files.url}${path}`, kind: 'disk' });
      expect(await settled(cp, image.id)).toMatchObject({ status: 'error', error: expect.stringMatching(why) });
    }
    await cp.shutdown();

    cp = await startTestControlPlane({ controlPlane: { image_downloads: { url_policy: new UrlPolicy(['localhost']) } } });
    const byName = (await cp.services.images.register(cp.scope, { url: `http://localhost:${port}/disk.img`, kind: 'disk' })).image;
    expect((await settled(cp, byName.id)).status).toBe('ready');
    // The name is allowed, not the address behind it.
    const byAddress = (await cp.services.images.register(cp.scope, { url: `${files.url}/disk.img`, kind: 'disk' })).image;
    expect((await settled(cp, byAddress.id)).status).toBe('error');
  });

  it('refuses a malformed allow-list entry at start', () => {
    expect(() => new UrlPolicy(['10.0.0.0/99'])).toThrow();
  });
});

describe('download slots', () => {
  const mirror = new UrlPolicy(['127.0.0.1']);

  it('gives the next slot to the project with fewer downloads running, and fails a trickle', async () => {
    cp = await startTestControlPlane({ worker: false });
    const other = { project_id: (await ensureProject(cp.database.db, 'other')).id, actor: 'other' };
    const a1 = (await cp.services.images.register(cp.scope, { url: `${files.url}/trickle.img?1`, kind: 'disk' })).image;
    const a2 = (await cp.services.images.register(cp.scope, { url: `${files.url}/trickle.img?2`, kind: 'disk' })).image;
    const b = (await cp.services.images.register(other, { url: `${files.url}/disk.img`, kind: 'disk' })).image;
    const downloader = new ImageDownloader({
      db: cp.database.db,
      store: cp.images,
      url_policy: mirror,
      concurrency: 2,
      stall_timeout_ms: 1_500,
      poll_ms: 50,
      logger: silentLogger,
    });
    downloader.start();
    try {
      // The other project's download took the second slot at once: the first trickle still
      // runs (had it waited behind the second trickle, the first would have stalled by now).
      expect((await settled(cp, b.id, other)).status).toBe('ready');
      expect((await cp.services.images.get(cp.scope, a1.id)).status).toBe('downloading');
      expect(a2.id).toBeTruthy();
      const stalled = await settled(cp, a1.id);
      expect(stalled).toMatchObject({ status: 'error', error: expect.stringMatching(/stalled: less than 65536 bytes in 1\.5 s/) });
    } finally {
      await downloader.stop();
    }
  });

  it('fails a download that moves but outlasts its deadline', async () => {
    cp = await startTestControlPlane({ worker: false });
    const { image } = await cp.services.images.register(cp.scope, { url: `${files.url}/steady.img`, kind: 'disk' });
    const downloader = new ImageDownloader({
      db: cp.database.db,
      store: cp.images,
      url_policy: mirror,
      deadline_ms: 500,
      poll_ms: 50,
      logger: silentLogger,
    });
    downloader.start();
    try {
      expect(await settled(cp, image.id)).toMatchObject({ status: 'error', error: expect.stringMatching(/took longer than 0\.5 s/) });
    } finally {
      await downloader.stop();
    }
  });
});

describe('waking the downloader', () => {
  it('wakes for an image registered, not for every VM operation queued', async () => {
    const log = new StatementLog();
    const database = await createTestDatabase({ onStatement: log.onStatement });
    try {
      // Neither the worker nor the downloader looks for work unwoken during the test.
      const c = await startTestControlPlane({
        database,
        worker: { poll_ms: 60_000 },
        controlPlane: { image_downloads: { poll_ms: 60_000 } },
      });
      cp = c;
      const claims = (sent: string[]) => sent.map(firstWords).filter((q) => q === 'update "images"').length;
      // Each create announces work on its host, one after another: no claim of a download follows.
      const sent = await log.during(async () => {
        for (let i = 0; i < 10; i++) {
          await c.services.vms.create(c.scope, { name: `quiet-${i}`, cpu_cores: 1, memory_mb: 256, disk_gb: 1 });
          await new Promise((r) => setTimeout(r, 30));
        }
      });
      expect(claims(sent)).toBe(0);
      // An image registered wakes it: claimed (and refused, a loopback URL) long before its poll.
      const woken = await log.during(async () => {
        const { image } = await c.services.images.register(c.scope, { url: `http://127.0.0.1:${port}/disk.img`, kind: 'disk' });
        await settled(c, image.id);
      });
      expect(claims(woken)).toBeGreaterThanOrEqual(1);
    } finally {
      await cp?.shutdown();
      cp = undefined;
      await database.close();
    }
  });
});
