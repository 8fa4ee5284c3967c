import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildOpenApiDocument } from '../src/http/openapi.js';
import { startTestServer, type TestServer } from '../src/testing.js';

// Requests generated from the OpenAPI document, then mutated: every route gets values of the
// right shape, of the wrong shape, and hostile ones (NUL, unpaired surrogates, %-escapes, huge
// numbers, prototype keys, garbage bodies). Client input never yields a 5xx, and a refused
// request changes nothing.

type Schema = Record<string, any>;
type Route = { method: string; path: string; op: Schema };

const doc = buildOpenApiDocument() as Schema;
const STREAMS = new Set(['/vms/{id}/export', '/vms/import', '/images/upload']);
const routes: Route[] = Object.entries(doc.paths as Record<string, Schema>).flatMap(([path, ops]) =>
  Object.entries(ops).map(([method, op]) => ({ method: method.toUpperCase(), path, op: op as Schema })),
);

const HOSTILE_STRINGS = [
  '',
  '\u0000',
  'a\u0000b',
  '\ud800',
  'x\udfffy',
  '%',
  '%zz',
  '%E0%A4%A',
  '../../etc/passwd',
  '<script>alert(1)</script>',
  "'; DROP TABLE vms; --",
  'x'.repeat(5000),
  '💥'.repeat(100),
  '0',
  '-1',
  '1e400',
  'true',
  'null',
  '6c7e3b27-7159-4e0a-9e30-3d44284574cd',
  // Cursors that decode (base64url JSON of [time, id]) to times no database row can have.
  Buffer.from('[1e20,"6c7e3b27-7159-4e0a-9e30-3d44284574cd"]').toString('base64url'),
  Buffer.from('[-8.64e15,"6c7e3b27-7159-4e0a-9e30-3d44284574cd"]').toString('base64url'),
];
const HOSTILE_VALUES: unknown[] = [
  ...HOSTILE_STRINGS,
  -1,
  0,
  0.5,
  2 ** 31,
  2 ** 53 + 2,
  -(2 ** 63),
  1e308,
  -1e308,
  true,
  false,
  null,
  [],
  {},
  ['a', '\u0000'],
  { a: '\u0000' },
  JSON.parse('{"__proto__": {"admin": true}, "constructor": {"prototype": {}}}'),
];
const hostileString = fc.constantFrom(...HOSTILE_STRINGS);
const hostile: fc.Arbitrary<unknown> = fc.oneof(fc.constantFrom(...HOSTILE_VALUES), fc.anything({ maxDepth: 2 }));

/** Values of a JSON schema's shape (strings of any code points, NUL and lone surrogates included). */
function validFor(s: Schema | undefined, depth = 0): fc.Arbitrary<unknown> {
  if (!s || depth > 3) return hostile;
  if (s.anyOf || s.oneOf) return fc.oneof(...(s.anyOf ?? s.oneOf).map((x: Schema) => validFor(x, depth + 1)));
  if (s.enum) return fc.constantFrom(...s.enum);
  if (s.const !== undefined) return fc.constant(s.const);
  switch (s.type) {
    case 'string': {
      const max = Math.min(s.maxLength ?? 40, 300);
      if (s.format === 'uuid') return fc.uuid();
      return patterned(s) ?? fc.oneof(fc.string({ maxLength: max, unit: 'grapheme' }), fc.string({ maxLength: max, unit: 'binary' }));
    }
    case 'integer':
      return fc.integer({ min: Math.max(s.minimum ?? -1e6, -2e9), max: Math.min(s.maximum ?? 1e6, 2e9) });
    case 'number':
      return fc.double({ noNaN: true, noDefaultInfinity: true });
    case 'boolean':
      return fc.boolean();
    case 'null':
      return fc.constant(null);
    case 'array':
      return fc.array(validFor(s.items, depth + 1), { maxLength: 4 });
    case 'object': {
      const props = Object.entries((s.properties ?? {}) as Record<string, Schema>);
      if (!props.length && s.additionalProperties)
        return fc.dictionary(fc.string({ maxLength: 10, unit: 'binary' }), validFor(s.additionalProperties, depth + 1), { maxKeys: 3 });
      return fc.record(Object.fromEntries(props.map(([k, v]) => [k, validFor(v, depth + 1)])), {
        requiredKeys: (s.required ?? []).filter((k: string) => props.some(([p]) => p === k)),
      });
    }
    default:
      return hostile;
  }
}

/**
 * What the fuzzer sends for a schema: a value of its shape; the same with one field made
 * hostile (the rest valid, so the hostile one gets past the others' checks); or anything.
 */
function arbitraryFor(s: Schema | undefined): fc.Arbitrary<unknown> {
  const props = Object.entries((s?.properties ?? {}) as Record<string, Schema>);
  // The required fields alone, valid, then one field (any) made hostile.
  const minimal = fc.record(Object.fromEntries(props.filter(([k]) => (s?.required ?? []).includes(k)).map(([k, v]) => [k, validFor(v)])));
  const oneHostile = props.length
    ? fc.tuple(minimal, fc.constantFrom(...props.map(([k]) => k)), hostile).map(([v, k, h]) => ({ ...v, [k]: h }))
    : hostile;
  return fc.oneof({ arbitrary: validFor(s), weight: 3 }, { arbitrary: oneHostile, weight: 3 }, { arbitrary: hostile, weight: 1 });
}

function patterned(s: Schema): fc.Arbitrary<string> | null {
  if (!s.pattern) return null;
  try {
    return fc.stringMatching(new RegExp(s.pattern)).filter((v) => v.length <= (s.maxLength ?? 300));
  } catch {
    return null;
  }
}

interface Generated {
  ids: Record<string, string>;
  query: [string, string][];
  body: { kind: 'json'; value: unknown } | { kind: 'raw'; text: string; type: string } | null;
  headers: Record<string, string>;
}

function requestFor(route: Route, knownIds: string[]): fc.Arbitrary<Generated> {
  const params = (route.op.parameters ?? []) as Schema[];
  const pathParams = params.filter((p) => p.in === 'path');
  const queryParams = params.filter((p) => p.in === 'query');
  const id = fc.oneof(fc.constantFrom(...knownIds), fc.uuid(), hostileString);
  const query = fc.array(
    fc.oneof(
      {
        arbitrary: fc
          .constantFrom(...(queryParams.length ? queryParams : [{ name: 'x', schema: {} }]))
          .chain((p) => fc.oneof(validFor(p.schema), hostile).map((v) => [p.name, text(v)] as [string, string])),
        weight: 4,
      },
      { arbitrary: fc.tuple(fc.constantFrom('id', 'project_id', 'surprise', '__proto__'), hostileString), weight: 1 },
    ),
    { maxLength: 4 },
  );
  const content = route.op.requestBody?.content as Record<string, { schema?: Schema }> | undefined;
  const jsonSchema = content?.['application/json']?.schema;
  const body: fc.Arbitrary<Generated['body']> = !content
    ? fc.constant(null)
    : fc.oneof(
        { arbitrary: arbitraryFor(jsonSchema ?? {}).map((value) => ({ kind: 'json' as const, value })), weight: 6 },
        {
          arbitrary: fc.record({
            kind: fc.constant('raw' as const),
            text: fc.oneof(hostileString, fc.string({ maxLength: 200 }), fc.constant('{"a":'), fc.constant('[1,2')),
            type: fc.constantFrom(
              'application/json',
              'text/plain',
              'application/x-www-form-urlencoded',
              'multipart/form-data',
              'application/x-tar',
            ),
          }),
          weight: 1,
        },
      );
  const headers = fc.record(
    {
      'idempotency-key': fc.oneof(fc.string({ maxLength: 20 }), fc.constantFrom('k1', 'k2')),
      'if-match': fc.oneof(
        fc.nat().map(String),
        hostileString.filter((v) => !/[\r\n\u0000-\u001f\u007f-\uffff]/.test(v)),
      ),
    },
    { requiredKeys: [] },
  );
  return fc.record({
    ids: fc.record(Object.fromEntries(pathParams.map((p) => [p.name, id]))) as fc.Arbitrary<Record<string, string>>,
    query,
    body,
    headers: headers.map(
      (h) => Object.fromEntries(Object.entries(h).filter(([, v]) => /^[\x20-\x7e]*$/.test(v as string))) as Record<string, string>,
    ),
  });
}

/** %-escapes a path segment; an unpaired surrogate (which encodeURIComponent refuses) as the bytes a careless client would send. */
function escapeSegment(v: string): string {
  try {
    return encodeURIComponent(v);
  } catch {
    return v
      .replace(/[\ud800-\udfff]/g, '%ED%A0%80')
      .split('%ED%A0%80')
      .map(encodeURIComponent)
      .join('%ED%A0%80');
  }
}

const text = (v: unknown) => (typeof v === 'string' ? v : (JSON.stringify(v) ?? ''));

function toRequest(route: Route, g: Generated): { url: string; init: RequestInit } {
  const path = route.path.replace(/\{(\w+)\}/g, (_, name: string) => {
    const v = g.ids[name] ?? '';
    // Some ids are sent raw: a malformed %-escape must be refused, not crash the router.
    return v.startsWith('%') ? v : escapeSegment(v);
  });
  const search = new URLSearchParams(g.query).toString();
  const headers: Record<string, string> = { ...g.headers };
  let body: string | undefined;
  if (g.body?.kind === 'json') {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(g.body.value) ?? 'null';
  } else if (g.body?.kind === 'raw') {
    headers['content-type'] = g.body.type;
    body = g.body.text;
  }
  return { url: `/api/v1${path}${search ? `?${search}` : ''}`, init: { method: route.method, headers, body } };
}

let api: TestServer; // no worker: nothing changes but what a request changes
let streams: TestServer;
const known: string[] = [];
const real: Record<string, string> = {};

/** A real id for a path's parameter (the VM, operation, image or key the path names). */
const idFor = (path: string) => real[path.split('/')[1]!] ?? known[0]!;

beforeAll(async () => {
  api = await startTestServer({ env: { HANGAR_WORKER: 'off' } });
  streams = await startTestServer({ sim_bytes_per_gb: 2 ** 20 });
  const auth = { authorization: `Bearer ${api.apiKey}`, 'content-type': 'application/json' };
  const vm: any = await (
    await fetch(`${api.url}/api/v1/vms`, {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({ name: 'fuzzed', cpu_cores: 1, memory_mb: 256, disk_gb: 1 }),
    })
  ).json();
  known.push(vm.vm.id, vm.operation.id);
  const key: any = await (
    await fetch(`${api.url}/api/v1/api-keys`, { method: 'POST', headers: auth, body: JSON.stringify({ name: 'fuzz' }) })
  ).json();
  known.push(key.api_key.id, key.api_key.user_id, key.api_key.project_id);
  const iso = Buffer.concat([Buffer.alloc(32769), Buffer.from('CD001'), Buffer.alloc(8186)]);
  const image: any = await (
    await fetch(`${api.url}/api/v1/images/upload?name=fuzz.iso`, {
      method: 'POST',
      headers: { authorization: auth.authorization },
      body: iso,
    })
  ).json();
  known.push(image.id);
  Object.assign(real, { vms: vm.vm.id, operations: vm.operation.id, 'api-keys': key.api_key.id, images: image.id });
}, 60_000);
afterAll(async () => {
  await api?.stop();
  await streams?.stop();
});

async function fingerprint(server: TestServer): Promise<string> {
  const [row] = await server.database.sql`
    SELECT (SELECT count(*) FROM vms) AS vms, (SELECT coalesce(sum(version), 0) FROM vms) AS versions,
      (SELECT count(*) FROM operations) AS operations, (SELECT count(*) FROM events) AS events,
      (SELECT count(*) FROM users) AS users, (SELECT count(*) FROM api_keys WHERE revoked_at IS NULL) AS keys,
      (SELECT count(*) FROM projects) AS projects, (SELECT count(*) FROM images) AS images,
      (SELECT count(*) FROM idempotency_keys) AS idempotency,
      (SELECT coalesce(sum(allocated_cpus + allocated_memory_mb + allocated_disk_gb), 0) FROM hosts) AS allocated`;
  return JSON.stringify(row);
}

const RUNS = 60;

/** A request with the route's required fields valid (drawn once, reproducibly) and one field set to `value`. */
function sweepRequest(route: Route, where: 'query' | 'body', field: string, value: unknown, ids: Record<string, string>): Generated {
  const content = route.op.requestBody?.content as Record<string, { schema?: Schema }> | undefined;
  const schema = content?.['application/json']?.schema;
  const base = schema
    ? (fc.sample(
        fc.record(
          Object.fromEntries(
            Object.entries((schema.properties ?? {}) as Record<string, Schema>)
              .filter(([k]) => (schema.required ?? []).includes(k))
              .map(([k, v]) => [k, validFor(v)]),
          ),
        ),
        { numRuns: 1, seed: 7 },
      )[0] as Record<string, unknown>)
    : null;
  return {
    ids,
    query: where === 'query' ? [[field, text(value)]] : [],
    body: base ? { kind: 'json', value: where === 'body' ? { ...base, [field]: value } : base } : null,
    headers: {},
  };
}

describe('every field of every route, set to each hostile value', () => {
  for (const route of routes.filter((r) => !STREAMS.has(r.path))) {
    it(`${route.method} ${route.path}`, async () => {
      const params = (route.op.parameters ?? []) as Schema[];
      const content = route.op.requestBody?.content as Record<string, { schema?: Schema }> | undefined;
      const fields: ['query' | 'body', string][] = [
        ...params.filter((p) => p.in === 'query').map((p) => ['query', p.name] as ['query', string]),
        ...Object.keys(content?.['application/json']?.schema?.properties ?? {}).map((k) => ['body', k] as ['body', string]),
      ];
      const ids = Object.fromEntries(params.filter((p) => p.in === 'path').map((p) => [p.name, idFor(route.path)]));
      for (const [where, field] of fields) {
        for (const value of HOSTILE_VALUES) {
          const { url, init } = toRequest(route, sweepRequest(route, where, field, value, ids));
          const before = await fingerprint(api);
          const res = await fetch(`${api.url}${url}`, {
            ...init,
            headers: { ...(init.headers as Record<string, string>), authorization: `Bearer ${api.apiKey}` },
            signal: AbortSignal.timeout(2_000),
          }).catch((err: Error) => (err.name === 'TimeoutError' ? null : Promise.reject(err)));
          if (!res) continue;
          // A watch stream that opened never ends by itself: its status is the answer.
          if (res.headers.get('content-type')?.startsWith('text/event-stream')) await res.body?.cancel();
          else await res.arrayBuffer();
          const what = `${init.method} ${url} ${where}.${field}=${JSON.stringify(value)?.slice(0, 40)}`;
          expect(res.status, what).toBeLessThan(500);
          if (res.status >= 400) expect(await fingerprint(api), `${what} changed state with ${res.status}`).toBe(before);
        }
      }
    }, 120_000);
  }
});

describe('generated requests', () => {
  for (const route of routes) {
    const stream = STREAMS.has(route.path);
    it(`${route.method} ${route.path}: no 5xx, and a refusal changes nothing`, async () => {
      const server = stream ? streams : api;
      await fc.assert(
        fc.asyncProperty(requestFor(route, known), async (g) => {
          const { url, init } = toRequest(route, g);
          const before = stream ? '' : await fingerprint(server);
          let status: number;
          try {
            const res = await fetch(`${server.url}${url}`, {
              ...init,
              headers: { ...(init.headers as Record<string, string>), authorization: `Bearer ${server.apiKey}` },
              // Long-polls and waits on a server without a worker would hold on: two seconds is enough.
              signal: AbortSignal.timeout(2_000),
            });
            status = res.status;
            await res.arrayBuffer().catch(() => undefined);
          } catch (err) {
            if ((err as Error).name === 'TimeoutError') return; // still waiting: not an answer
            throw err;
          }
          expect(status, `${init.method} ${url} ${String(init.body).slice(0, 300)}`).toBeLessThan(500);
          if (status >= 400 && !stream)
            expect(await fingerprint(server), `${init.method} ${url} changed state with ${status}`).toBe(before);
        }),
        { numRuns: RUNS, seed: 20261124, endOnFailure: true },
      );
      expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    }, 120_000);
  }
});
