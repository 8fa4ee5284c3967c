import { drizzle } from 'drizzle-orm/postgres-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Scope } from '../src/index.js';
import { EXACT_COUNT_LIMIT, listVms } from '../src/services/vm-queries.js';
import { connectPostgres } from '../src/store/connect.js';
import type { Db } from '../src/store/database.js';
import * as schema from '../src/store/schema.js';
import { startTestControlPlane, type TestControlPlane } from '../src/testing/index.js';

let cp: TestControlPlane;
let scope: Scope;
beforeAll(async () => {
  // No worker: these tests look at records and requests, not at the hypervisor.
  cp = await startTestControlPlane({ worker: false, reconciler: false });
  scope = cp.scope;
  const { services } = cp;
  for (let i = 0; i < 25; i++) {
    // Each a millisecond apart: a VM's created_at is to the millisecond, and two made within the
    // same one are ordered by id (a create can take less than a millisecond now).
    await new Promise((r) => setTimeout(r, 2));
    await services.vms.create(scope, {
      name: `node-${String(i).padStart(2, '0')}`,
      os_type: i % 5 === 0 ? 'windows' : 'linux',
      labels: { env: i % 2 ? 'prod' : 'dev', team: i < 10 ? 'a' : 'b' },
      cpu_cores: 1,
      memory_mb: 256,
      disk_gb: 1,
    });
  }
  await cp.database.sql`UPDATE vms SET status = 'running', current_operation_id = NULL WHERE name IN ('node-01', 'node-02', 'node-03')`;
  await cp.database.sql`UPDATE vms SET status = 'stopped', current_operation_id = NULL WHERE status = 'provisioning'`;
  await cp.database.sql`UPDATE operations SET status = 'succeeded', finished_at = now()`;
});
afterAll(() => cp?.shutdown());

describe('listing VMs', () => {
  it('pages by number, newest first, with totals', async () => {
    const p1 = await cp.services.vms.list(scope, { per_page: 10 });
    expect(p1).toMatchObject({ total: 25, total_is_estimate: false, page: 1, per_page: 10, total_pages: 3 });
    expect(p1.vms.map((v) => v.name).slice(0, 3)).toEqual(['node-24', 'node-23', 'node-22']);
    const p3 = await cp.services.vms.list(scope, { per_page: 10, page: 3 });
    expect(p3.vms).toHaveLength(5);
    expect(p3.next_cursor).toBeNull();
    expect(p3.vms.at(-1)?.name).toBe('node-00');
  });

  it('walks every VM exactly once by cursor', async () => {
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await cp.services.vms.list(scope, { per_page: 7, cursor });
      expect(page.page).toBe(cursor ? null : 1);
      seen.push(...page.vms.map((v) => v.name));
      cursor = page.next_cursor ?? undefined;
    } while (cursor);
    expect(seen).toHaveLength(25);
    expect(new Set(seen).size).toBe(25);
  });

  it('says the same total on every page by number, the last one and one past the end included', async () => {
    const pages = [];
    for (const page of [1, 2, 3, 4]) {
      const p = await cp.services.vms.list(scope, { per_page: 10, page });
      pages.push([p.vms.length, p.total, p.total_is_estimate, p.total_pages]);
    }
    expect(pages).toEqual([
      [10, 25, false, 3],
      [10, 25, false, 3],
      [5, 25, false, 3],
      [0, 25, false, 3],
    ]);
  });

  it('keeps its filters and its total across cursor pages', async () => {
    const query = { status: 'stopped', label: ['team=b', 'env=prod'] };
    const whole = await cp.services.vms.list(scope, { ...query, per_page: 100 });
    expect(whole.vms.map((v) => v.name)).toEqual(['node-23', 'node-21', 'node-19', 'node-17', 'node-15', 'node-13', 'node-11']);
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await cp.services.vms.list(scope, { ...query, per_page: 3, cursor });
      expect(page).toMatchObject({ total: 7, total_is_estimate: false });
      seen.push(...page.vms.map((v) => v.name));
      cursor = page.next_cursor ?? undefined;
    } while (cursor);
    expect(seen).toEqual(whole.vms.map((v) => v.name));
  });

  it('filters by status, os, labels, name and host', async () => {
    const running = await cp.services.vms.list(scope, { status: 'running' });
    expect(running.vms.map((v) => v.name).sort()).toEqual(['node-01', 'node-02', 'node-03']);
    const windows = await cp.services.vms.list(scope, { os_type: 'windows' });
    expect(windows.total).toBe(5);
    const prodA = await cp.services.vms.list(scope, { label: ['env=prod', 'team=a'] });
    expect(prodA.vms.map((v) => v.name).sort()).toEqual(['node-01', 'node-03', 'node-05', 'node-07', 'node-09']);
    const hasTeam = await cp.services.vms.list(scope, { label: 'team' });
    expect(hasTeam.total).toBe(25);
    const search = await cp.services.vms.list(scope, { search: 'DE-1' });
    expect(search.total).toBe(10);
    const host = await cp.services.vms.list(scope, { host_id: cp.hosts[0]!.id, per_page: 1 });
    expect(host.total).toBe(25);
    // By the host's name as well; an unknown name matches nothing.
    expect((await cp.services.vms.list(scope, { host_id: cp.hosts[0]!.name })).total).toBe(25);
    expect((await cp.services.vms.list(scope, { host_id: 'no-such-host' })).total).toBe(0);
    const both = await cp.services.vms.list(scope, { status: ['running', 'stopped'], search: 'node-0' });
    expect(both.total).toBe(10);
  });

  it('treats % and _ in a search as plain characters', async () => {
    expect((await cp.services.vms.list(scope, { search: '%' })).total).toBe(0);
    expect((await cp.services.vms.list(scope, { search: '_' })).total).toBe(0);
  });

  it('rejects a forged cursor', async () => {
    await expect(cp.services.vms.list(scope, { cursor: 'bm9wZQ' })).rejects.toMatchObject({ code: 'VALIDATION' });
  });

  it('never shows another project’s VMs', async () => {
    const other = await cp.services.projects.create({ name: 'other-team' });
    const theirs: Scope = { project_id: other.id };
    expect((await cp.services.vms.list(theirs)).total).toBe(0);
    const mine = (await cp.services.vms.list(scope, { per_page: 1 })).vms[0]!;
    await expect(cp.services.vms.get(theirs, mine.id)).rejects.toMatchObject({ code: 'VM_NOT_FOUND' });
    await expect(cp.services.vms.start(theirs, mine.id)).rejects.toMatchObject({ code: 'VM_NOT_FOUND' });
    await expect(cp.services.vms.events(theirs, mine.id)).rejects.toMatchObject({ code: 'VM_NOT_FOUND' });
    // The same name is free in another project.
    const r = await cp.services.vms.create(theirs, { name: mine.name, memory_mb: 128, disk_gb: 1, cpu_cores: 1 });
    expect(r.vm.project_id).toBe(other.id);
  });
});

describe('names, versions and idempotency', () => {
  it('keeps names unique among live VMs, and frees a deleted VM’s name', async () => {
    const small = { memory_mb: 128, disk_gb: 1, cpu_cores: 1 };
    const a = await cp.services.vms.create(scope, { name: 'unique-1', ...small });
    await expect(cp.services.vms.create(scope, { name: 'unique-1', ...small })).rejects.toMatchObject({ code: 'NAME_TAKEN' });
    const b = await cp.services.vms.create(scope, { name: 'unique-2', ...small });
    await expect(cp.services.vms.update(scope, b.vm.id, { name: 'unique-1' })).rejects.toMatchObject({ code: 'NAME_TAKEN' });
    await cp.database.sql`UPDATE vms SET status = 'deleted', deleted_at = now(), current_operation_id = NULL WHERE id = ${a.vm.id}`;
    const c = await cp.services.vms.create(scope, { name: 'unique-1', ...small });
    expect(c.vm.id).not.toBe(a.vm.id);
    const listed = await cp.services.vms.list(scope, { search: 'unique-1', include_deleted: true });
    expect(listed.vms.map((v) => v.status).sort()).toEqual(['deleted', 'provisioning']);
    expect((await cp.services.vms.list(scope, { search: 'unique-1' })).total).toBe(1);
  });

  it('refuses a stale expected_version', async () => {
    const vm = (await cp.services.vms.list(scope, { search: 'node-05' })).vms[0]!;
    await expect(cp.services.vms.update(scope, vm.id, { labels: { x: 'y' } }, { expected_version: vm.version + 1 })).rejects.toMatchObject({
      code: 'VERSION_CONFLICT',
    });
    const ok = await cp.services.vms.update(scope, vm.id, { labels: { x: 'y' } }, { expected_version: vm.version });
    expect(ok.vm.version).toBe(vm.version + 1);
    await expect(cp.services.vms.start(scope, vm.id, { expected_version: vm.version })).rejects.toMatchObject({
      code: 'VERSION_CONFLICT',
    });
  });

  it('replays a create with the same idempotency key, and refuses the key with another request', async () => {
    const input = { name: 'idem-1', memory_mb: 128, disk_gb: 1, cpu_cores: 1 };
    const first = await cp.services.vms.create(scope, input, { idempotency_key: 'create-idem-1' });
    const again = await cp.services.vms.create(scope, { ...input }, { idempotency_key: 'create-idem-1' });
    expect(again).toEqual(first);
    await expect(cp.services.vms.create(scope, { ...input, cpu_cores: 2 }, { idempotency_key: 'create-idem-1' })).rejects.toMatchObject({
      code: 'IDEMPOTENCY_MISMATCH',
    });
    expect((await cp.services.vms.list(scope, { search: 'idem-1' })).total).toBe(1);
  });

  it('makes one VM out of concurrent retries with one key', async () => {
    const input = { name: 'idem-race', memory_mb: 128, disk_gb: 1, cpu_cores: 1 };
    const results = await Promise.all(
      Array.from({ length: 10 }, () => cp.services.vms.create(scope, input, { idempotency_key: 'race-key' })),
    );
    expect(new Set(results.map((r) => r.vm.id)).size).toBe(1);
    expect((await cp.services.vms.list(scope, { search: 'idem-race' })).total).toBe(1);
  });

  it('does not store an answer for a request that failed', async () => {
    const input = { name: 'unique-2', memory_mb: 128, disk_gb: 1, cpu_cores: 1 };
    await expect(cp.services.vms.create(scope, input, { idempotency_key: 'failed-once' })).rejects.toMatchObject({
      code: 'NAME_TAKEN',
    });
    const fixed = await cp.services.vms.create(scope, { ...input, name: 'unique-3' }, { idempotency_key: 'failed-once' });
    expect(fixed.vm.name).toBe('unique-3');
  });

  it('says why a conflicting action is refused', async () => {
    const vm = (await cp.services.vms.list(scope, { search: 'node-10' })).vms[0]!;
    const err = await cp.services.vms.pause(scope, vm.id).catch((e: unknown) => e);
    expect(err).toMatchObject({
      code: 'INVALID_STATE',
      details: { status: 'stopped', allowed_actions: expect.arrayContaining(['start', 'delete']), retryable: false },
    });
    const started = await cp.services.vms.start(scope, vm.id);
    const busy = await cp.services.vms.pause(scope, vm.id).catch((e: unknown) => e);
    expect(busy).toMatchObject({
      code: 'OPERATION_IN_PROGRESS',
      details: { status: 'starting', operation_id: started.operation!.id, retryable: true },
    });
    const del = await cp.services.vms.delete(scope, vm.id).catch((e: unknown) => e);
    expect((del as Error).message).toContain('force=true');
  });

  it('preempts a queued operation with force_stop and forced delete', async () => {
    const vm = (await cp.services.vms.list(scope, { search: 'node-11' })).vms[0]!;
    const start = await cp.services.vms.start(scope, vm.id);
    const forced = await cp.services.vms.force_stop(scope, vm.id);
    expect(forced.vm.status).toBe('stopping');
    expect((await cp.services.operations.get(scope, start.operation!.id)).status).toBe('cancelled');
    const del = await cp.services.vms.delete(scope, vm.id, { force: true });
    expect((await cp.services.operations.get(scope, forced.operation!.id)).status).toBe('cancelled');
    expect(del.vm.status).toBe('deleting');
    const events = await cp.services.vms.events(scope, vm.id);
    expect(events.filter((e) => e.type === 'operation.cancelled')).toHaveLength(2);
  });
});

describe('counting large lists', () => {
  it('counts exactly up to 1,000 matches and estimates beyond, saying so', async () => {
    const other = await cp.services.projects.create({ name: 'crowded' });
    const crowd = { project_id: other.id, actor: 'test' };
    const [host] = await cp.database.sql`SELECT id FROM hosts LIMIT 1`;
    await cp.database.sql`
      INSERT INTO vms (project_id, host_id, number, name, status, cpu_cores, memory_mb, disk_gb, os_type, labels, network)
      SELECT ${other.id}, ${host!.id}, g, 'c-' || g, 'stopped', 1, 256, 1, 'linux', '{"tier":"web"}'::jsonb,
        '{"type":"nat","bridge_name":null,"mac_address":null,"ip_address":null}'::jsonb
      FROM generate_series(1, 1050) g`;
    await cp.database.sql`ANALYZE vms`;
    const many = await cp.services.vms.list(crowd, { per_page: 50, label: ['tier=web'] });
    expect(many.vms).toHaveLength(50);
    expect(many.total_is_estimate).toBe(true);
    expect(many.total).toBeGreaterThan(1_000);
    // The estimate is the planner's for the list's filter.
    const [plan] = await cp.database.sql`
      EXPLAIN (FORMAT JSON) SELECT 1 FROM vms WHERE project_id = ${other.id} AND deleted_at IS NULL AND labels @> '{"tier":"web"}'::jsonb`;
    const planned = Math.round((plan!['QUERY PLAN'] as [{ Plan: { 'Plan Rows': number } }])[0].Plan['Plan Rows']);
    expect(many.total).toBe(Math.max(EXACT_COUNT_LIMIT + 1, planned));
    // The last page by number holds more than the exact limit behind it: still the estimate.
    const last = await cp.services.vms.list(crowd, { per_page: 100, page: 11, label: ['tier=web'] });
    expect(last).toMatchObject({ total: many.total, total_is_estimate: true });
    expect(last.vms).toHaveLength(50);
    const few = await cp.services.vms.list(crowd, { per_page: 50, search: 'c-104' });
    expect(few).toMatchObject({ total: 11, total_is_estimate: false }); // c-104 and c-1040..c-1049
    const second = await cp.services.vms.list(crowd, { per_page: 5, page: 2, search: 'c-104' });
    expect(second).toMatchObject({ total: 11, total_is_estimate: false });
  });

  it('counts a dense match along the list’s index, not by reading the table', async () => {
    const dense = await cp.services.projects.create({ name: 'dense' });
    const [host] = await cp.database.sql`SELECT id FROM hosts LIMIT 1`;
    await cp.database.sql`
      INSERT INTO vms (project_id, host_id, number, name, status, cpu_cores, memory_mb, disk_gb, os_type, labels, network, created_at)
      SELECT ${dense.id}, ${host!.id}, g, 'd-' || g, (ARRAY['running','stopped','paused'])[1 + g % 3], 1, 256, 1, 'linux',
        jsonb_build_object('tier', (ARRAY['web','db'])[1 + g % 2]),
        '{"type":"nat","bridge_name":null,"mac_address":null,"ip_address":null}'::jsonb, timestamptz '2026-01-01' + (g || ' seconds')::interval
      FROM generate_series(1, 30000) g`;
    await cp.database.sql`ANALYZE vms`;
    const explain = async (query: string, params: unknown[] = []) =>
      JSON.stringify(await cp.database.sql.unsafe(`EXPLAIN (FORMAT JSON) ${query}`, params as never[]));
    // Left to itself the planner counts 1,001 of them by reading the table (from wherever the last
    // sequential scan stopped, through a small ring of buffers on a large table).
    expect(
      await explain(
        `SELECT count(*) FROM (SELECT 1 FROM vms WHERE project_id = '${dense.id}' AND deleted_at IS NULL AND status = 'running' AND labels @> '{"tier":"web"}' LIMIT 1001) m`,
      ),
    ).toContain('"Seq Scan"');
    const sent: { query: string; params: unknown[] }[] = [];
    const client = connectPostgres(cp.database.url, {
      max: 2,
      onnotice: () => {},
      debug: (_c, query, params) => sent.push({ query, params }),
    });
    try {
      const db = drizzle(client, { schema }) as unknown as Db;
      const page = await listVms(db, { project_id: dense.id, actor: 'test' }, { status: 'running', label: 'tier=web', per_page: 50 });
      expect(page.vms.map((v) => v.name).slice(0, 2)).toEqual(['d-30000', 'd-29994']);
      expect(page.total_is_estimate).toBe(true);
      // The list's count walks the index from the newest VM instead.
      const counts = sent.filter((s) => s.query.startsWith('SELECT count(*)'));
      expect(counts).toHaveLength(1);
      const plan = await explain(counts[0]!.query, counts[0]!.params);
      expect(plan).toContain('"Index Scan"');
      expect(plan).not.toContain('"Seq Scan"');

      // Found over the limit, the count is not run again while its plan is kept: the total is the
      // estimate either way. The next page, by cursor, costs its page alone.
      sent.length = 0;
      const next = await listVms(
        db,
        { project_id: dense.id, actor: 'test' },
        { status: 'running', label: 'tier=web', per_page: 50, cursor: page.next_cursor! },
      );
      expect(next.vms[0]!.name).toBe('d-29700');
      expect(next).toMatchObject({ total: page.total, total_is_estimate: true });
      expect(sent.filter((s) => s.query.startsWith('SELECT count(*)'))).toHaveLength(0);
      // An exact total (under the limit) is counted on every page.
      for (const n of [1, 2]) {
        const few = await listVms(db, { project_id: dense.id, actor: 'test' }, { search: 'd-2999', per_page: 5, page: n });
        expect(few).toMatchObject({ total: 11, total_is_estimate: false });
      }
      expect(sent.filter((s) => s.query.startsWith('SELECT count(*)'))).toHaveLength(2);
    } finally {
      await client.end();
    }
  });
});
