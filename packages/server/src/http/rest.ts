import { errors, type HangarError } from '@hangar/core';
import type { Context as HonoContext } from 'hono';
import { writeError } from '../errors/write-error.js';
import type { Context } from '../trpc/context.js';
import { callProcedure, procedureAt } from '../trpc/direct-call.js';
import { API_BASE } from './api-base.js';
import { foldBodyAliases } from './body-aliases.js';
import { queryInput } from './query-input.js';
import { readBody } from './read-body.js';
import type { AppEnv } from './request-context.js';
import { requestHeader } from './request-header.js';
import { type RestRoute, restRoutes } from './rest-routes.js';

/** Headers that stand for body fields of mutations. */
const HEADER_FIELDS: [header: Lowercase<string>, field: string, parse: (v: string) => unknown][] = [
  ['idempotency-key', 'idempotency_key', (v) => v],
  // If-Match: 3, "3" or W/"3". A version is decimal digits: anything else (0x3, 1e3, 3.0) goes
  // to the schema as the text it is, and is refused there.
  ['if-match', 'expected_version', (v) => versionOf(v.replace(/^W\//, '').replace(/"/g, '').trim()) ?? v],
];

function versionOf(text: string): number | undefined {
  return /^\d{1,15}$/.test(text) ? Number(text) : undefined;
}

/**
 * The REST routes under /api/v1: each one is a tRPC procedure (found from its `openapi` meta),
 * called through a server-side caller with the same context, so REST and tRPC cannot drift
 * apart. This adapter only moves values between HTTP and the procedure's input and answer.
 */
export function restHandler(makeContext: (c: HonoContext<AppEnv>) => Context) {
  const routes = restRoutes();
  // The method's own routes, in the same order (fixed segments first): a request tries only those.
  const byMethod = new Map<string, RestRoute[]>();
  for (const r of routes) byMethod.set(r.method, [...(byMethod.get(r.method) ?? []), r]);
  return async (c: HonoContext<AppEnv>): Promise<Response> => {
    const info = c.get('info');
    try {
      const path = c.req.path.slice(API_BASE.length) || '/';
      let route: RestRoute | undefined;
      let m: RegExpExecArray | null = null;
      // HEAD is GET without the body (Node's server leaves it out).
      const method = c.req.method === 'HEAD' ? 'GET' : c.req.method;
      for (const r of byMethod.get(method) ?? []) {
        m = r.pattern.exec(path);
        if (m) {
          route = r;
          break;
        }
      }
      if (!route || !m) {
        const methods = new Set(routes.filter((r) => r.pattern.test(path)).map((r) => r.method));
        if (methods.size) {
          throw errors.validation(`${c.req.method} is not allowed on ${API_BASE}${path}; use ${[...methods].join(', ')}`, [
            { path: '(method)', message: 'method not allowed' },
          ]);
        }
        throw errors.routeNotFound(c.req.method, `${API_BASE}${path}`);
      }
      const procedure = route.procedure;
      info.procedure = procedure.name;
      const input = procedure.input ? await buildInput(c, route, m) : undefined;
      const data = (await callProcedure(procedure.name, procedureAt(procedure.name)!, makeContext(c), input)) as
        | Record<string, unknown>
        | undefined;
      return c.json(data ?? null, successStatus(route, data), successHeaders(route, data));
    } catch (err) {
      return writeError(c, err);
    }
  };
}

function successStatus(route: RestRoute, data: Record<string, unknown> | undefined): 200 | 201 | 202 {
  const status = route.procedure.rest.status;
  if (status === 201) return 201;
  if (status === 'accepted') {
    const op = data?.operation as { status?: string } | null | undefined;
    return op && (op.status === 'pending' || op.status === 'running') ? 202 : 200;
  }
  return 200;
}

function successHeaders(route: RestRoute, data: Record<string, unknown> | undefined): Record<string, string> {
  if (route.procedure.rest.status !== 201) return {};
  const vmId = (data?.vm as { id?: string } | undefined)?.id;
  if (vmId) return { location: `${API_BASE}/vms/${vmId}` };
  return typeof data?.id === 'string' ? { location: `${API_BASE}${route.procedure.path}/${data.id}` } : {};
}

/** The procedure's input from the body (JSON or form), the query, the path and the headers that stand for fields. */
async function buildInput(c: HonoContext<AppEnv>, route: RestRoute, m: RegExpExecArray): Promise<Record<string, unknown>> {
  const schema = route.procedure.input!;
  const raw = ['POST', 'PUT', 'PATCH'].includes(route.method) ? await readBody(c) : {};
  const body = route.procedure.rest.body_aliases ? foldBodyAliases(raw, route.procedure.rest.body_aliases, schema) : raw;
  const params = new URL(c.req.url).searchParams;
  const aliases = route.procedure.rest.query_aliases ?? {};
  const input: Record<string, unknown> = { ...body, ...queryInput(schema, params, aliases) };
  route.params.forEach((name, i) => {
    const value = decodePathParam(name, m[i + 1]!);
    // The path names the resource: the same field again in the body or the query may repeat
    // it, never point elsewhere (every value of a repeated or aliased parameter counts).
    const queried = [name, ...Object.keys(aliases).filter((a) => aliases[a] === name)].flatMap((k) => params.getAll(k));
    if (Object.hasOwn(body, name) && body[name] !== value) throw pathConflict(name, 'body');
    if (queried.some((v) => v !== value)) throw pathConflict(name, 'query');
    input[name] = value;
  });
  if (route.method !== 'GET') {
    for (const [header, field, parse] of HEADER_FIELDS) {
      const value = requestHeader(c, header);
      if (value !== undefined && input[field] === undefined) input[field] = parse(value);
    }
  }
  return input;
}

function pathConflict(name: string, where: 'body' | 'query'): HangarError {
  return errors.validation(`The ${where}'s ${name} differs from the path's ${name}: send it in the path only`, [
    { path: name, message: `the ${where} gives another value than the path` },
  ]);
}

function decodePathParam(name: string, raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw errors.validation(`The path's ${name} has a malformed %-escape`, [{ path: name, message: 'malformed %-escape' }]);
  }
}
