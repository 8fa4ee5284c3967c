import { errors, HangarError, type Principal, roleAtLeast, type Vm } from '@hangar/core';
import type { z } from 'zod';
import { toHangarError } from '../../errors/to-hangar-error.js';
import { queryInput } from '../../http/query-input.js';
import { readBody } from '../../http/read-body.js';
import type { DialectRequest } from '../dialect.js';
import { resolveLiveVm } from '../vm-ref.js';

/**
 * The caller, checked first as the earlier API's auth dependency was: no valid credentials is a
 * 401 and too small a role a 403 before anything about the request itself is judged (a viewer's
 * malformed POST is refused for the role, not for the body). Reads need a viewer, writes an
 * operator: the native procedures' own roles, checked again by each call.
 */
export async function caller({ native }: DialectRequest, need: 'read' | 'write'): Promise<Principal> {
  const principal = await native.call<Principal>('auth.whoami');
  if (need === 'write' && !roleAtLeast(principal.role, 'operator')) {
    throw errors.forbidden(
      `Changing VMs needs the operator role; this ${principal.via === 'api_key' ? 'key' : 'account'} has ${principal.role}`,
    );
  }
  return principal;
}

/** Where a refused value was, as FastAPI's 422 names it (`loc[0]`). */
export type InputLocation = 'query' | 'body';

function parsed<T extends z.ZodType>(schema: T, input: unknown, where: InputLocation): z.output<T> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const refused = errors.fromZod(result.error, where);
  throw new HangarError('VALIDATION', refused.message, { ...refused.details, location: where });
}

/** The query string, typed by `schema` (numbers and booleans from their text). */
export const readQuery = <T extends z.ZodObject>(req: DialectRequest, schema: T): z.output<T> =>
  parsed(schema, queryInput(schema, new URL(req.c.req.url).searchParams), 'query');

/** The JSON body, checked by `schema`. */
export const readJson = async <T extends z.ZodType>(req: DialectRequest, schema: T): Promise<z.output<T>> =>
  parsed(schema, await readBody(req.c), 'body');

/**
 * The VM the path names: its number (the earlier API's integer id), its uuid or its name. A
 * deleted VM is gone as far as this API knows, as it was once the earlier API had deleted it.
 */
export const pathVm = ({ native, params }: DialectRequest): Promise<Vm> => resolveLiveVm(native, params.vm_id ?? '');

/** Native field names in refusals, back in this API's names. */
const DIALECT_NAMES: Record<string, string> = { host_id: 'server_id', network: 'network_config' };

/**
 * `call`, with a native refusal of a field (a host that does not exist, say) naming the field
 * as the caller sent it.
 */
export async function inDialectNames<T>(call: Promise<T>): Promise<T> {
  try {
    return await call;
  } catch (err) {
    const e = toHangarError(err);
    if (e.code !== 'VALIDATION' || !e.details.fields) throw err;
    const fields = e.details.fields.map((f) => {
      const [head = '', ...rest] = f.path.split('.');
      return { ...f, path: [DIALECT_NAMES[head] ?? head, ...rest].join('.') };
    });
    throw new HangarError('VALIDATION', e.message, { ...e.details, fields });
  }
}
