import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { serveFiles } from '@hangar/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { startTestServer, type TestServer } from '../src/testing.js';
import { type Family, parsePrometheusText, sampleNames, sampleValue } from './prometheus-text.js';

// GET /metrics against a real server, worker and PostgreSQL: what real requests, operations,
// drift and downloads do shows in the scrape; the dashboard asks only for what is exported.

const DASHBOARD = join(import.meta.dirname, '../../../deploy/grafana/hangar-dashboard.json');
const IMAGE = Buffer.alloc(300 * 1024, 7);
const DATASOURCE_VARIABLE = '$' + '{datasource}';

let server: TestServer;
let files: Awaited<ReturnType<typeof serveFiles>>;
const keys: Record<'viewer' | 'projectAdmin', string> = { viewer: '', projectAdmin: '' };

const asAdmin = () => ({ authorization: `Bearer ${server.apiKey}`, 'content-type': 'application/json' });

async function post<T>(path: string, body: unknown): Promise<T> {
  const res = await fetch(`${server.url}${path}`, { method: 'POST', headers: asAdmin(), body: JSON.stringify(body) });
  expect(res.status, await res.clone().text()).toBeLessThan(300);
  return (await res.json()) as T;
}

async function keyFor(username: string, role: string): Promise<string> {
  const user = await post<{ id: string }>('/api/v1/users', { username, role });
  return (await post<{ key: string }>('/api/v1/api-keys', { name: username, user_id: user.id })).key;
}

async function scrapeText(): Promise<string> {
  const res = await fetch(`${server.url}/metrics`, { headers: asAdmin() });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return res.text();
}
const scrape = async () => parsePrometheusText(await scrapeText());

/** How much a sample grew since `before`, read by a fresh scrape. */
async function growth(before: Map<string, Family>, name: string, labels: Record<string, string>): Promise<number> {
  return sampleValue(await scrape(), name, labels) - sampleValue(before, name, labels);
}

beforeAll(async () => {
  files = await serveFiles({ '/tiny.iso': { body: IMAGE } });
  server = await startTestServer({ env: { HANGAR_IMAGE_ALLOW_HOSTS: '127.0.0.1', HANGAR_RECONCILE_INTERVAL_S: '0.2' } });
  keys.viewer = await keyFor('watcher', 'viewer');
  keys.projectAdmin = await keyFor('boss', 'admin');
}, 60_000);
afterAll(async () => {
  await server?.stop();
  await files?.close();
});

describe('GET /metrics on the API port', () => {
  it('answers a global admin only, with the API error shape otherwise', async () => {
    const anonymous = await fetch(`${server.url}/metrics`);
    expect(anonymous.status).toBe(401);
    expect(await anonymous.json()).toMatchObject({ code: 'UNAUTHENTICATED', request_id: expect.any(String) });
    // A project's admin is not a global admin.
    for (const key of [keys.viewer, keys.projectAdmin]) {
      const res = await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${key}` } });
      expect(res.status).toBe(403);
      expect(await res.json()).toMatchObject({ code: 'FORBIDDEN', detail: 'Metrics need a global admin' });
    }
    const bad = await fetch(`${server.url}/metrics`, { headers: { authorization: 'Bearer hgr_not_a_real_key_000000000000' } });
    expect(bad.status).toBe(401);
  });

  it('is Prometheus text with the metrics of the API, the control plane, the database and the process', async () => {
    const families = await scrape();
    const types = Object.fromEntries([...families.values()].map((f) => [f.name, f.type]));
    expect(types).toMatchObject({
      hangar_http_request_duration_seconds: 'histogram',
      hangar_operations_total: 'counter',
      hangar_operation_duration_seconds: 'histogram',
      hangar_operation_queue_depth: 'gauge',
      hangar_operation_queue_oldest_age_seconds: 'gauge',
      hangar_operation_lease_takeovers_total: 'counter',
      hangar_drift_corrections_total: 'counter',
      hangar_vms: 'gauge',
      hangar_hosts: 'gauge',
      hangar_image_downloads_started_total: 'counter',
      hangar_image_downloads_finished_total: 'counter',
      hangar_image_download_bytes_total: 'counter',
      hangar_db_connections: 'gauge',
      hangar_db_pool_max_connections: 'gauge',
      hangar_database_up: 'gauge',
      nodejs_eventloop_lag_seconds: 'gauge',
      nodejs_eventloop_lag_p99_seconds: 'gauge',
      process_cpu_seconds_total: 'counter',
      process_resident_memory_bytes: 'gauge',
    });
    expect(sampleValue(families, 'hangar_database_up')).toBe(1);
    expect(sampleValue(families, 'hangar_hosts', { status: 'online' })).toBe(1);
    expect(sampleValue(families, 'hangar_hosts', { status: 'offline' })).toBe(0);
    expect(sampleValue(families, 'hangar_db_pool_max_connections')).toBeGreaterThan(0);
    // This scrape's own query is one of Hangar's connections, and it is active.
    expect(sampleValue(families, 'hangar_db_connections', { state: 'active' })).toBeGreaterThanOrEqual(1);
    expect(sampleValue(families, 'hangar_operation_queue_depth')).toBe(0);
  });

  it('counts a create that succeeded with its duration, and the VM it made by status', async () => {
    const before = await scrape();
    const made = await post<{ vm: { id: string; status: string }; operation: { status: string } }>('/api/v1/vms?wait=true', {
      name: 'counted',
      cpu_cores: 1,
      memory_mb: 128,
      disk_gb: 1,
    });
    expect([made.vm.status, made.operation.status]).toEqual(['stopped', 'succeeded']);
    const create = { action: 'create', result: 'succeeded' };
    // The counters move once the ending is committed, which a waiter may hear of first.
    await expect.poll(() => growth(before, 'hangar_operations_total', create)).toBe(1);
    const after = await scrape();
    expect(
      sampleValue(after, 'hangar_operation_duration_seconds_count', create) -
        sampleValue(before, 'hangar_operation_duration_seconds_count', create),
    ).toBe(1);
    expect(sampleValue(after, 'hangar_operation_duration_seconds_sum', create)).toBeGreaterThan(
      sampleValue(before, 'hangar_operation_duration_seconds_sum', create),
    );
    expect(sampleValue(after, 'hangar_operations_total', { action: 'create', result: 'failed' })).toBe(0);
    expect(sampleValue(after, 'hangar_vms', { status: 'stopped' }) - sampleValue(before, 'hangar_vms', { status: 'stopped' })).toBe(1);
    expect(sampleValue(after, 'hangar_vms', { status: 'provisioning' })).toBe(0);
  });

  it('labels requests by procedure or route pattern and status, never by a URL with ids in it', async () => {
    const { vm } = await post<{ vm: { id: string } }>('/api/v1/vms?wait=true', {
      name: 'asked-about',
      cpu_cores: 1,
      memory_mb: 128,
      disk_gb: 1,
    });
    const missing = '6c7e3b27-7159-4e0a-9e30-3d44284574cd';
    const before = await scrape();
    const get = (path: string) => fetch(`${server.url}${path}`, { headers: asAdmin() });
    for (let i = 0; i < 2; i++) expect((await get(`/api/v1/vms/${vm.id}`)).status).toBe(200);
    // One tRPC query by GET: answered by the fast path (trpc-single-query.ts), counted all the same.
    for (let i = 0; i < 3; i++)
      expect((await get(`/trpc/vms.get?input=${encodeURIComponent(JSON.stringify({ id: vm.id }))}`)).status).toBe(200);
    expect((await get(`/api/v1/vms/${missing}`)).status).toBe(404);
    expect((await get(`/trpc/no.such_procedure?input=${encodeURIComponent(JSON.stringify({ id: missing }))}`)).status).toBe(404);
    expect((await get(`/no/such/path/${missing}`)).status).toBe(404);
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);

    const text = await scrapeText();
    const after = parsePrometheusText(text);
    const count = (labels: Record<string, string>) =>
      sampleValue(after, 'hangar_http_request_duration_seconds_count', labels) -
      sampleValue(before, 'hangar_http_request_duration_seconds_count', labels);
    expect(count({ procedure: 'vms.get', status: '200' })).toBe(5);
    expect(count({ procedure: 'vms.get', status: '404' })).toBe(1);
    expect(count({ procedure: '/trpc/*', status: '404' })).toBe(1);
    expect(count({ procedure: 'unmatched', status: '404' })).toBe(1);
    expect(count({ procedure: '/healthz', status: '200' })).toBe(1);
    // Each request is in one bucket line per bound, and the +Inf bucket is the count.
    expect(sampleValue(after, 'hangar_http_request_duration_seconds_bucket', { procedure: 'vms.get', status: '200', le: '+Inf' })).toBe(
      sampleValue(after, 'hangar_http_request_duration_seconds_count', { procedure: 'vms.get', status: '200' }),
    );
    for (const id of [vm.id, missing]) expect(text).not.toContain(id);
    const procedures = new Set(after.get('hangar_http_request_duration_seconds')!.samples.map((s) => s.labels.procedure));
    for (const p of procedures) expect(p).toMatch(/^([a-z_]+\.[a-z_.]+|\/[a-z0-9/._:*-]*|unmatched)$/);
  });

  it('counts a drift the reconciler corrects', async () => {
    const { vm } = await post<{ vm: { id: string } }>('/api/v1/vms?wait=true', {
      name: 'drifter',
      cpu_cores: 1,
      memory_mb: 128,
      disk_gb: 1,
      start: true,
    });
    const before = await scrape();
    const [row] = await server.database.sql<{ domain_ref: string }[]>`SELECT domain_ref FROM vms WHERE id = ${vm.id}`;
    server.driver.hypervisor.crash(row!.domain_ref);
    const drift = { from: 'running', to: 'stopped' };
    await expect.poll(() => growth(before, 'hangar_drift_corrections_total', drift), { timeout: 5_000 }).toBe(1);
    const after = await scrape();
    expect(sampleValue(after, 'hangar_vms', { status: 'running' }) - sampleValue(before, 'hangar_vms', { status: 'running' })).toBe(-1);
  });

  it('counts an image download, started and finished, and its bytes', async () => {
    const before = await scrape();
    const image = await post<{ id: string }>('/api/v1/images', { name: 'tiny.iso', kind: 'iso', url: `${files.url}/tiny.iso` });
    const waited = await fetch(`${server.url}/api/v1/images/${image.id}/wait?timeout_ms=20000`, { headers: asAdmin() });
    expect(((await waited.json()) as { image: { status: string } }).image.status).toBe('ready');
    await expect.poll(() => growth(before, 'hangar_image_downloads_finished_total', { result: 'succeeded' })).toBe(1);
    const after = await scrape();
    expect(sampleValue(after, 'hangar_image_downloads_started_total') - sampleValue(before, 'hangar_image_downloads_started_total')).toBe(
      1,
    );
    expect(sampleValue(after, 'hangar_image_download_bytes_total') - sampleValue(before, 'hangar_image_download_bytes_total')).toBe(
      IMAGE.length,
    );
    expect(sampleValue(after, 'hangar_image_downloads_finished_total', { result: 'failed' })).toBe(0);
  });
});

/** The metric names a PromQL expression reads: identifiers that are not functions, keywords, labels or strings. */
function metricNames(expr: string): string[] {
  const KEYWORDS = new Set(['and', 'or', 'unless', 'offset', 'bool', 'by', 'without', 'on', 'ignoring', 'group_left', 'group_right']);
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, '')
    .replace(/\[[^\]]*\]/g, '')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, '');
  return [...bare.matchAll(/(?<![\w$.])[a-zA-Z_:][a-zA-Z0-9_:]*/g)]
    .filter((m) => !/^\s*\(/.test(bare.slice(m.index + m[0].length)))
    .map((m) => m[0])
    .filter((n) => !KEYWORDS.has(n));
}

describe('the Grafana dashboard', () => {
  it('is a dashboard on a Prometheus data source variable, asking only for metrics the server exports, all of them', async () => {
    const dashboard = JSON.parse(await readFile(DASHBOARD, 'utf8')) as {
      title: string;
      uid: string;
      templating: { list: { name: string; type: string; query: unknown }[] };
      panels: { type: string; title: string; datasource?: { uid: string }; targets?: { expr: string }[] }[];
    };
    expect(dashboard.title).toBe('Hangar');
    expect(dashboard.templating.list).toContainEqual(
      expect.objectContaining({ name: 'datasource', type: 'datasource', query: 'prometheus' }),
    );
    const panels = dashboard.panels.filter((p) => p.type !== 'row');
    expect(panels.length).toBeGreaterThan(10);
    const exprs: string[] = [];
    for (const p of panels) {
      // Grafana's own variable syntax, not a template string.
      expect(p.datasource?.uid, p.title).toBe(DATASOURCE_VARIABLE);
      expect(p.targets?.length, p.title).toBeGreaterThan(0);
      exprs.push(...p.targets!.map((t) => t.expr));
    }
    const used = new Set(exprs.flatMap(metricNames));
    expect(used.size).toBeGreaterThan(15);
    const families = await scrape();
    const exported = sampleNames(families);
    expect([...used].filter((n) => !exported.has(n))).toEqual([]);
    // Every metric of Hangar's own has a panel.
    const ours = [...families.keys()].filter((n) => n.startsWith('hangar_'));
    const shown = [...used].join(' ');
    expect(ours.filter((n) => !shown.includes(n))).toEqual([]);
  });

  it('reads metric names out of PromQL, not functions, labels or ranges', () => {
    expect(
      metricNames(
        'histogram_quantile(0.99, sum by (le, procedure) (rate(hangar_http_request_duration_seconds_bucket{instance=~"$instance", x="a b"}[$__rate_interval])))',
      ),
    ).toEqual(['hangar_http_request_duration_seconds_bucket']);
    expect(metricNames('max(a_metric) / on (instance) group_left b_metric')).toEqual(['a_metric', 'b_metric']);
  });
});

describe('HANGAR_METRICS_PORT', () => {
  let own: TestServer | undefined;
  afterAll(() => own?.stop());

  it('serves /metrics on its own port without credentials, and the API port answers 404 for it', async () => {
    // No worker: what is created stays queued, so the queue gauges have something to show.
    own = await startTestServer({ env: { HANGAR_METRICS_PORT: '0', HANGAR_WORKER: 'off' } });
    expect(own.metricsUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(own.metricsUrl).not.toBe(own.url);
    const onApi = await fetch(`${own.url}/metrics`, { headers: { authorization: `Bearer ${own.apiKey}` } });
    expect(onApi.status).toBe(404);
    expect(await onApi.json()).toMatchObject({ code: 'NOT_FOUND' });
    expect((await fetch(`${own.metricsUrl}/api/v1/vms`, { headers: { authorization: `Bearer ${own.apiKey}` } })).status).toBe(404);

    const made = await fetch(`${own.url}/api/v1/vms`, {
      method: 'POST',
      headers: { authorization: `Bearer ${own.apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'queued', cpu_cores: 1, memory_mb: 128, disk_gb: 1 }),
    });
    expect(made.status).toBeLessThan(300);
    await new Promise((r) => setTimeout(r, 1_100));
    const res = await fetch(`${own.metricsUrl}/metrics`);
    expect(res.status).toBe(200);
    const families = parsePrometheusText(await res.text());
    expect(sampleValue(families, 'hangar_operation_queue_depth')).toBe(1);
    expect(sampleValue(families, 'hangar_operation_queue_oldest_age_seconds')).toBeGreaterThanOrEqual(1);
    expect(sampleValue(families, 'hangar_vms', { status: 'provisioning' })).toBe(1);
    // The API's requests are counted on the API port and read on this one.
    expect(sampleValue(families, 'hangar_http_request_duration_seconds_count', { procedure: 'vms.create' })).toBe(1);

    const url = own.metricsUrl!;
    await own.stop();
    own = undefined;
    await expect(fetch(`${url}/metrics`)).rejects.toThrow();
  });

  it('is a port number, checked at start', () => {
    expect(() => loadConfig({ HANGAR_METRICS_PORT: 'nine' })).toThrow(/HANGAR_METRICS_PORT/);
    expect(() => loadConfig({ HANGAR_METRICS_PORT: '70000' })).toThrow(/HANGAR_METRICS_PORT/);
    expect(loadConfig({}).HANGAR_METRICS_PORT).toBeUndefined();
    expect(loadConfig({ HANGAR_METRICS_PORT: '' }).HANGAR_METRICS_PORT).toBeUndefined();
    expect(loadConfig({ HANGAR_METRICS_PORT: '9464' })).toMatchObject({ HANGAR_METRICS_PORT: 9464, HANGAR_METRICS_HOST: '127.0.0.1' });
  });
});
