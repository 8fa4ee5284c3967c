import type { z } from 'zod';
import { appRouter } from '../router.js';
import type { HttpMethod, Meta } from '../trpc/init.js';

export type RestMeta = NonNullable<Meta['rest']>;

export interface RestProcedure {
  /** The tRPC path, e.g. `vms.start`. */
  name: string;
  type: 'query' | 'mutation';
  method: HttpMethod;
  path: `/${string}`;
  rest: RestMeta;
  input: z.ZodType | undefined;
}

/** Every procedure that has a REST route, read from the router itself. */
export function restProcedures(): RestProcedure[] {
  const procedures = appRouter._def.procedures as unknown as Record<string, { _def: { type: string; meta?: Meta; inputs: unknown[] } }>;
  const out: RestProcedure[] = [];
  for (const [name, proc] of Object.entries(procedures)) {
    const openapi = proc._def.meta?.openapi;
    if (!openapi) continue;
    out.push({
      name,
      type: proc._def.type as RestProcedure['type'],
      method: openapi.method,
      path: openapi.path,
      rest: proc._def.meta?.rest ?? {},
      input: proc._def.inputs[0] as z.ZodType | undefined,
    });
  }
  return out;
}

export interface RestRoute {
  method: HttpMethod;
  pattern: RegExp;
  params: string[];
  procedure: RestProcedure;
}

/** Method + path patterns to procedures, aliases included; fixed segments win over parameters. */
export function restRoutes(): RestRoute[] {
  const routes: RestRoute[] = [];
  for (const procedure of restProcedures()) {
    for (const { method, path } of [{ method: procedure.method, path: procedure.path }, ...(procedure.rest.also ?? [])]) {
      const params: string[] = [];
      const source = path.replace(/\{(\w+)\}/g, (_, name: string) => {
        params.push(name);
        return '([^/]+)';
      });
      routes.push({ method, pattern: new RegExp(`^${source}/?$`), params, procedure });
    }
  }
  return routes.sort((a, b) => a.params.length - b.params.length);
}
