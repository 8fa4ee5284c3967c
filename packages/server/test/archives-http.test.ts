import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../src/testing.js';

let server: TestServer;
let big: TestServer;
const headers = () => ({ authorization: `Bearer ${server.apiKey}` });
const json = () => ({ ...headers(), 'content-type': 'application/json' });

beforeAll(async () => {
  // Disks of 1 MiB per "GB" here; the memory test has a server with real GiB disks.
  server = await startTestServer({ sim_bytes_per_gb: 2 ** 20 });
  big = await startTestServer();
});
afterAll(async () => {
  await server?.stop();
  await big?.stop();
});

async function stoppedVm(name: string, on = server): Promise<string> {
  const res = await fetch(`${on.url}/api/v1/vms?wait=true`, {
    method: 'POST',
    headers: json(),
    body: JSON.stringify({ name, cpu_cores: 1, memory_mb: 256, disk_gb: 1 }),
  });
  expect(res.status).toBe(201);
  return ((await res.json()) as { vm: { id: string } }).vm.id;
}

const status = async (id: string, on = server) =>
  ((await (await fetch(`${on.url}/api/v1/vms/${id}`, { headers: headers() })).json()) as { status: string }).status;

describe('export and import over HTTP', () => {
  it('streams a 1 GiB disk with flat memory, and the VM is exporting until the stream ends', async () => {
    const id = await stoppedVm('big-disk', big);
    const res = await fetch(`${big.url}/api/v1/vms/${id}/export`, { headers: headers() });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/x-tar');
    expect(res.headers.get('content-disposition')).toBe('attachment; filename="big-disk.tar"');
    expect(await status(id, big)).toBe('exporting');

    global.gc?.();
    const base = process.memoryUsage().rss;
    let peak = base;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
    const hash = createHash('sha256');
    let bytes = 0;
    for await (const chunk of res.body!) {
      hash.update(chunk);
      bytes += chunk.length;
    }
    clearInterval(sampler);
    // The archive is the whole 1 GiB disk and a header or two; the process (server and this
    // reader both) grew by far less than that.
    expect(bytes).toBeGreaterThan(2 ** 30);
    expect(peak - base).toBeLessThan(96 * 2 ** 20);
    await expect.poll(() => status(id, big), { timeout: 5_000 }).toBe('stopped');
  }, 120_000);

  it('round-trips through tar.gz, and imports from multipart too', async () => {
    const id = await stoppedVm('gz-source');
    const res = await fetch(`${server.url}/api/v1/vms/${id}/export?compress=gzip`, { headers: headers() });
    expect(res.headers.get('content-type')).toBe('application/gzip');
    const archive = Buffer.from(await res.arrayBuffer());
    expect(archive.length).toBeLessThan(64 * 1024); // a sparse disk compresses well
    await expect.poll(() => status(id), { timeout: 5_000 }).toBe('stopped');

    const raw = await fetch(`${server.url}/api/v1/vms/import?name=gz-copy`, {
      method: 'POST',
      headers: { ...headers(), 'content-type': 'application/gzip' },
      body: archive,
    });
    expect(raw.status).toBe(201);
    const copy = (await raw.json()) as { id: string; status: string; name: string };
    expect(copy).toMatchObject({ status: 'stopped', name: 'gz-copy' });
    expect(raw.headers.get('location')).toBe(`/api/v1/vms/${copy.id}`);

    const form = new FormData();
    form.append('file', new Blob([archive]), 'gz-source.tar.gz');
    const multi = await fetch(`${server.url}/api/v1/vms/import?name=multipart-copy`, { method: 'POST', headers: headers(), body: form });
    expect(multi.status).toBe(201);
    expect(((await multi.json()) as { name: string }).name).toBe('multipart-copy');
  }, 120_000);

  it('returns the VM to stopped when the client disconnects', async () => {
    const id = await stoppedVm('disconnects');
    const ctl = new AbortController();
    const res = await fetch(`${server.url}/api/v1/vms/${id}/export`, { headers: headers(), signal: ctl.signal });
    const reader = res.body!.getReader();
    await reader.read();
    ctl.abort();
    await expect.poll(() => status(id), { timeout: 10_000 }).toBe('stopped');
    const ops = (await (await fetch(`${server.url}/api/v1/operations?vm_id=${id}`, { headers: headers() })).json()) as {
      operations: { action: string; status: string; error: string | null }[];
    };
    expect(ops.operations.find((o) => o.action === 'export')).toMatchObject({
      status: 'failed',
      error: expect.stringMatching(/stopped reading/),
    });
  }, 60_000);

  it('answers 409 for a running VM and 400 INVALID_ARCHIVE for a bad import', async () => {
    const created = await fetch(`${server.url}/api/v1/vms?wait=true`, {
      method: 'POST',
      headers: json(),
      body: JSON.stringify({ name: 'runs', cpu_cores: 1, memory_mb: 256, disk_gb: 1, start: true }),
    });
    const id = ((await created.json()) as { vm: { id: string } }).vm.id;
    const busy = await fetch(`${server.url}/api/v1/vms/${id}/export`, { headers: headers() });
    expect(busy.status).toBe(409);
    expect(busy.headers.get('content-type')).toMatch(/json/);
    expect(await busy.json()).toMatchObject({ code: 'INVALID_STATE', status: 'running' });

    const bad = await fetch(`${server.url}/api/v1/vms/import`, {
      method: 'POST',
      headers: { ...headers(), 'content-type': 'application/x-tar' },
      body: randomBytes(4096),
    });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ code: 'INVALID_ARCHIVE', detail: expect.stringMatching(/Not a tar archive/) });
    const noAuth = await fetch(`${server.url}/api/v1/vms/import`, { method: 'POST', body: randomBytes(10) });
    expect(noAuth.status).toBe(401);
  });
});

describe('images and the CD-ROM over HTTP', () => {
  it('uploads an ISO, attaches and ejects it, and refuses to eject an empty drive', async () => {
    const bytes = randomBytes(64 * 1024);
    const up = await fetch(`${server.url}/api/v1/images/upload?name=tools.iso&kind=iso`, {
      method: 'POST',
      headers: { ...headers(), 'content-type': 'application/octet-stream' },
      body: bytes,
    });
    expect(up.status).toBe(201);
    const image = (await up.json()) as { id: string; sha256: string; status: string };
    expect(image).toMatchObject({ status: 'ready', sha256: createHash('sha256').update(bytes).digest('hex') });
    const listed = (await (await fetch(`${server.url}/api/v1/images`, { headers: headers() })).json()) as { images: { id: string }[] };
    expect(listed.images.map((i) => i.id)).toContain(image.id);

    const id = await stoppedVm('with-cdrom');
    const attach = await fetch(`${server.url}/api/v1/vms/${id}/iso?wait=true`, {
      method: 'POST',
      headers: json(),
      body: JSON.stringify({ image_id: image.id }),
    });
    expect(attach.status).toBe(200);
    expect(((await attach.json()) as { vm: { iso_image_id: string } }).vm.iso_image_id).toBe(image.id);
    expect((await fetch(`${server.url}/api/v1/images/${image.id}`, { method: 'DELETE', headers: headers() })).status).toBe(409);

    const eject = await fetch(`${server.url}/api/v1/vms/${id}/iso?wait=true`, { method: 'DELETE', headers: headers() });
    expect(eject.status).toBe(200);
    const again = await fetch(`${server.url}/api/v1/vms/${id}/unmount_iso`, { method: 'POST', headers: headers() });
    expect(again.status).toBe(400);
    expect(await again.json()).toMatchObject({ detail: 'No CDROM device found' });
    expect((await fetch(`${server.url}/api/v1/images/${image.id}`, { method: 'DELETE', headers: headers() })).status).toBe(200);
  });

  it('registers a URL download and refuses other schemes with 400', async () => {
    const bad = await fetch(`${server.url}/api/v1/images`, {
      method: 'POST',
      headers: json(),
      body: JSON.stringify({ url: 'file:///etc/passwd' }),
    });
    expect(bad.status).toBe(400);
    const ok = await fetch(`${server.url}/api/v1/images`, {
      method: 'POST',
      headers: json(),
      body: JSON.stringify({ url: 'http://127.0.0.1:9/nothing-listens.iso' }),
    });
    expect(ok.status).toBe(201);
    const image = (await ok.json()) as { id: string; kind: string };
    expect(image.kind).toBe('iso');
    expect(ok.headers.get('location')).toBe(`/api/v1/images/${image.id}`);
    await expect
      .poll(
        async () =>
          ((await (await fetch(`${server.url}/api/v1/images/${image.id}`, { headers: headers() })).json()) as { status: string }).status,
        { timeout: 10_000 },
      )
      .toBe('error');
  });
});
