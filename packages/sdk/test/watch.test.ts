import { startTestServer, type TestServer } from '@hangar/server/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, type WatchEvent, type WatchFilter } from '../src/index.js';

/**
 * The watch stream (`GET /api/v1/events/stream`, the `events.watch` subscription and the SDK's
 * `watch()`): what it carries, to whom, and that a resumed stream misses nothing and repeats
 * nothing. The fleet-scale test (500 operations, a forced disconnect, a server restart) is in
 * `watch-stream-restart.test.ts`.
 */

let server: TestServer;
let admin: Client;
let other: { project_id: string; key: string };

beforeAll(async () => {
  server = await startTestServer({ env: { HANGAR_MAX_WAITS_PER_PRINCIPAL: '3', HANGAR_WATCH_HEARTBEAT_S: '0.2' } });
  admin = new Client({ base_url: server.url, api_key: server.apiKey });
  const project = await admin.createProject('watch-other');
  const user = await admin.createUser({ username: 'watch-other-admin', role: 'admin', project_id: project.id });
  const { insertApiKey } = await import('@hangar/core');
  const made = await insertApiKey(server.database.db, { id: user.id, project_id: project.id }, { name: 'other', role: 'admin' });
  other = { project_id: project.id, key: made.key };
});
afterAll(async () => {
  await server?.stop();
});

/** Collects events from `client.watch(filter)` until `until` says enough (or the time runs out). */
async function collect(client: Client, filter: WatchFilter, until: (seen: WatchEvent[]) => boolean, act?: () => Promise<unknown>) {
  const ctl = new AbortController();
  const seen: WatchEvent[] = [];
  const timer = setTimeout(() => ctl.abort(), 15_000);
  const reading = (async () => {
    for await (const e of client.watch(filter, { signal: ctl.signal })) {
      seen.push(e);
      if (until(seen)) break;
    }
  })();
  // The stream is open (its `ready` came) before the act: a watch from now sees all of it.
  await new Promise((r) => setTimeout(r, 150));
  await act?.();
  await reading;
  clearTimeout(timer);
  return seen;
}

const stream = (query: string, key: string | null, headers: Record<string, string> = {}) =>
  fetch(`${server.url}/api/v1/events/stream${query}`, {
    headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), ...headers },
  });

/** Reads an SSE body until `enough` says so; returns the text read. */
async function readSse(res: Response, enough: (text: string) => boolean): Promise<string> {
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  let text = '';
  const deadline = Date.now() + 10_000;
  while (!enough(text) && Date.now() < deadline) {
    const { value, done } = await reader.read();
    if (done) break;
    text += value;
  }
  await reader.cancel();
  return text;
}

describe('the watch stream', () => {
  it("carries a VM's changes live, in stream order, each once: what the events table holds for it", async () => {
    const ctl = new AbortController();
    const seen: WatchEvent[] = [];
    const reading = (async () => {
      for await (const e of admin.watch({}, { signal: ctl.signal })) seen.push(e);
    })();
    await new Promise((r) => setTimeout(r, 150));
    const vmId = (await admin.createVm({ name: 'watch-one', cpu_cores: 1, memory_mb: 128, disk_gb: 1 }, { wait: true })).vm.id;
    await admin.stopVm(vmId, { wait: true }).catch(() => {});
    // Everything the table holds for the VM arrives, and nothing else of it.
    const rows = await server.database.sql`SELECT id FROM events WHERE vm_id = ${vmId} ORDER BY id`;
    const mine = () => seen.filter((e) => e.vm_id === vmId);
    await expect.poll(() => mine().length, { timeout: 5_000 }).toBe(rows.length);
    await new Promise((r) => setTimeout(r, 300));
    ctl.abort();
    await reading;
    expect(mine().map((e) => e.type)).toEqual(expect.arrayContaining(['vm.created', 'operation.queued', 'operation.succeeded']));
    const ids = mine().map((e) => Number(e.id));
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
    expect(
      mine()
        .map((e) => e.event_id)
        .sort((a, b) => a - b),
    ).toEqual(rows.map((r) => Number(r.id)));
    expect(mine().every((e) => e.kind === e.type.split('.')[0] && e.project_id === mine()[0]!.project_id)).toBe(true);
  });

  it('replays from a position: after=0 gives everything kept, after=<id> only what came later', async () => {
    const all = await collect(admin, { after: '0', vm_id: undefined }, (s) => s.some((e) => e.type === 'operation.succeeded'));
    expect(all[0]!.type).toBe('vm.created');
    const from = all[1]!.id;
    const later = await collect(admin, { after: from }, (s) => s.length >= 2);
    expect(later.map((e) => e.id)).toEqual(all.slice(2, 4).map((e) => e.id));
  });

  it('filters by VM, by label and by type or kind', async () => {
    const a = (await admin.createVm({ name: 'watch-a', cpu_cores: 1, memory_mb: 128, disk_gb: 1, labels: { tier: 'web' } })).vm.id;
    const b = (await admin.createVm({ name: 'watch-b', cpu_cores: 1, memory_mb: 128, disk_gb: 1, labels: { tier: 'db' } })).vm.id;
    const act = async () => {
      await admin.startVm(b, { wait: true });
      await admin.startVm(a, { wait: true });
    };
    const byVm = await collect(admin, { vm_id: a }, (s) => s.some((e) => e.type === 'operation.succeeded'), act);
    expect(byVm.every((e) => e.vm_id === a)).toBe(true);

    const byLabel = await collect(
      admin,
      { label: 'tier=web' },
      (s) => s.some((e) => e.type === 'operation.succeeded'),
      () => admin.stopVm(a, { wait: true }).then(() => admin.stopVm(b, { wait: true })),
    );
    expect(byLabel.length).toBeGreaterThan(0);
    expect(byLabel.every((e) => e.vm_id === a)).toBe(true);

    const byType = await collect(
      admin,
      { type: ['operation.succeeded', 'vm'] },
      (s) => s.filter((e) => e.type === 'operation.succeeded').length >= 2,
      () => admin.startVm(b, { wait: true }).then(() => admin.startVm(a, { wait: true })),
    );
    expect(byType.every((e) => e.type === 'operation.succeeded' || e.kind === 'vm')).toBe(true);
    expect(byType.some((e) => e.kind === 'vm')).toBe(true);
  });

  it("carries images' changes, and hosts' to a global admin watching every project", async () => {
    const images = await collect(
      admin,
      { type: 'image' },
      (s) => s.some((e) => e.type === 'image.status_changed' && e.to_status === 'error'),
      // Refused by the download policy (loopback): registered, then failed.
      () => admin.registerImage({ url: 'http://127.0.0.1:9/watch.iso' }),
    );
    expect(images[0]!.type).toBe('image.created');
    expect(images.every((e) => e.image_id === images[0]!.image_id && e.kind === 'image')).toBe(true);

    const host = server.controlPlane.hosts[0]!;
    const hosts = await collect(
      admin,
      { all_projects: true, type: 'host' },
      (s) => s.filter((e) => e.type === 'host.updated').length >= 2,
      () => admin.cordonHost(host.id).then(() => admin.uncordonHost(host.id)),
    );
    expect(hosts.map((e) => [e.host_id, e.data.cordoned])).toEqual([
      [host.id, true],
      [host.id, false],
    ]);
    expect(hosts[0]!.project_id).toBeNull();
  });

  it("keeps each project to its own events; another project's VM is not found", async () => {
    const own = new Client({ base_url: server.url, api_key: other.key });
    const theirs = (await admin.listVms()).vms[0]!.id;
    const seen = await collect(
      own,
      {},
      (s) => s.some((e) => e.type === 'operation.succeeded'),
      async () => {
        await admin.createVm({ name: 'watch-not-yours', cpu_cores: 1, memory_mb: 128, disk_gb: 1 }, { wait: true });
        await own.createVm({ name: 'watch-yours', cpu_cores: 1, memory_mb: 128, disk_gb: 1 }, { wait: true });
      },
    );
    expect(seen.every((e) => e.project_id === other.project_id)).toBe(true);

    // Naming one's own project is watching it: no wider look, so no host's events.
    const ctl = new AbortController();
    const hostEvents: WatchEvent[] = [];
    const reading = (async () => {
      for await (const e of own.watch({ project_id: other.project_id }, { signal: ctl.signal })) hostEvents.push(e);
    })();
    await new Promise((r) => setTimeout(r, 150));
    const host = server.controlPlane.hosts[0]!;
    await admin.cordonHost(host.id);
    await admin.uncordonHost(host.id);
    await own.createVm({ name: 'watch-after-cordon', cpu_cores: 1, memory_mb: 128, disk_gb: 1 });
    await expect.poll(() => hostEvents.some((e) => e.type === 'vm.created'), { timeout: 5_000 }).toBe(true);
    ctl.abort();
    await reading;
    expect(hostEvents.filter((e) => e.kind === 'host')).toEqual([]);

    const notFound = await stream(`?vm_id=${theirs}`, other.key);
    expect(notFound.status).toBe(404);
    expect((await notFound.json()).code).toBe('VM_NOT_FOUND');
  });

  it('refuses before streaming: a bad filter 400, no key 401, all projects without a global admin 403, too many 429', async () => {
    const bad = await stream('?type=vm.nonsense', server.apiKey);
    expect(bad.status).toBe(400);
    expect((await bad.json()).code).toBe('VALIDATION');
    expect((await stream('?after=-1', server.apiKey)).status).toBe(400);
    expect((await stream('?colour=red', server.apiKey)).status).toBe(400);
    expect((await stream('', null)).status).toBe(401);
    expect((await stream('?all_projects=true', other.key)).status).toBe(403);
    expect((await stream(`?project_id=${server.controlPlane.hosts[0]!.id}`, other.key)).status).toBe(403);

    // Streams count against the per-key bound of long-polls (3 here): the fourth is refused until one ends.
    const open = await Promise.all([1, 2, 3].map(() => stream('', other.key)));
    expect(open.map((r) => r.status)).toEqual([200, 200, 200]);
    const fourth = await stream('', other.key);
    expect(fourth.status).toBe(429);
    await open[0]!.body!.cancel();
    const statusOfNew = async () => {
      const r = await stream('?type=host', other.key);
      await r.body?.cancel();
      return r.status;
    };
    await expect.poll(statusOfNew, { timeout: 5_000 }).toBe(200);
    for (const r of open.slice(1)) await r.body!.cancel();
  });

  it('sends where it begins, then heartbeats while idle; Last-Event-ID wins over after', async () => {
    const res = await stream('?type=host', server.apiKey);
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const text = await readSse(res, (t) => t.includes(': heartbeat'));
    expect(text).toMatch(/^event: ready\ndata: \{"position":"(\d+)"\}\nid: \1\nretry: 1000\n\n/);
    expect(text).toContain(': heartbeat');

    const [first] = await collect(admin, { after: '0' }, (s) => s.length >= 1);
    const resumed = await stream('?after=0', server.apiKey, { 'last-event-id': first!.id });
    const body = await readSse(resumed, (t) => /\ndata: \{"id"/.test(t));
    const event = JSON.parse(/\ndata: (\{"id".*)\n/.exec(body)![1]!) as WatchEvent;
    expect(Number(event.id)).toBeGreaterThan(Number(first!.id));
  });
});

describe('the events.watch subscription', () => {
  it('streams the same events over tRPC, tracked by stream position, and resumes after lastEventId', async () => {
    const all = await collect(admin, { after: '0' }, (s) => s.length >= 3);
    const sub = (input: unknown) =>
      fetch(`${server.url}/trpc/events.watch?input=${encodeURIComponent(JSON.stringify(input))}`, {
        headers: { authorization: `Bearer ${server.apiKey}`, accept: 'text/event-stream' },
      });
    const res = await sub({ after: '0' });
    expect(res.status).toBe(200);
    const text = await readSse(
      res,
      (t) => (t.match(/\nid: /g) ?? []).length >= 3 || (t.startsWith('id: ') && (t.match(/id: /g) ?? []).length >= 3),
    );
    const ids = [...text.matchAll(/^id: (\d+)$/gm)].map((m) => m[1]);
    expect(ids.slice(0, 3)).toEqual(all.slice(0, 3).map((e) => e.id));

    const resumed = await readSse(await sub({ after: '0', lastEventId: all[1]!.id }), (t) => /^id: \d+$/m.test(t));
    expect(/^id: (\d+)$/m.exec(resumed)![1]).toBe(all[2]!.id);

    // The same rights as the HTTP stream.
    const refused = await fetch(`${server.url}/trpc/events.watch?input=${encodeURIComponent(JSON.stringify({ all_projects: true }))}`, {
      headers: { authorization: `Bearer ${other.key}`, accept: 'text/event-stream' },
    });
    const refusal = await refused.text();
    expect(refused.status === 403 || refusal.includes('FORBIDDEN')).toBe(true);
    // With tRPC's own code for it (FORBIDDEN, -32003), not an internal error's (-32603).
    expect(refusal).toMatch(/"code":-32003/);
    expect(refusal).not.toMatch(/-32603/);
    // A VM of another project is not found there, and said so the same way (NOT_FOUND, -32004).
    const foreign = await fetch(
      `${server.url}/trpc/events.watch?input=${encodeURIComponent(JSON.stringify({ vm_id: '00000000-0000-4000-8000-000000000000' }))}`,
      { headers: { authorization: `Bearer ${other.key}`, accept: 'text/event-stream' } },
    );
    expect(await foreign.text()).toMatch(/"code":-32004/);
  });
});
