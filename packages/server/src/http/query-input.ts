import type { z } from 'zod';

type Kind = 'number' | 'boolean' | 'array' | 'one-or-many' | 'string';

interface Def {
  type: string;
  innerType?: z.ZodType;
  in?: z.ZodType;
  out?: z.ZodType;
  options?: z.ZodType[];
  shape?: Record<string, z.ZodType>;
}
const defOf = (s: z.ZodType) => (s as unknown as { _zod: { def: Def } })._zod.def;

/** Looks through optional, default, nullable and preprocess wrappers to the type that parses. */
function unwrap(s: z.ZodType): z.ZodType {
  for (;;) {
    const d = defOf(s);
    if (d.innerType && ['optional', 'default', 'nullable', 'prefault', 'readonly', 'catch'].includes(d.type)) s = d.innerType;
    else if (d.type === 'pipe' && d.in && d.out) s = defOf(d.in).type === 'transform' ? d.out : d.in;
    else return s;
  }
}

export function kindOf(s: z.ZodType): Kind {
  const d = defOf(unwrap(s));
  if (d.type === 'number' || d.type === 'int' || d.type === 'bigint') return 'number';
  if (d.type === 'boolean') return 'boolean';
  if (d.type === 'array') return 'array';
  if (d.type === 'union' && d.options?.some((o) => defOf(unwrap(o)).type === 'array')) return 'one-or-many';
  return 'string';
}

/** The object shape a procedure's input parses, if it is an object. */
export function inputShape(schema: z.ZodType): Record<string, z.ZodType> | null {
  const d = defOf(unwrap(schema));
  return d.type === 'object' && d.shape ? d.shape : null;
}

// A value that is not what the field wants is passed on unchanged, so the procedure's own
// validation names it (`page=abc` is a 400 for `page`, not a silent NaN).
function convert(kind: Exclude<Kind, 'array' | 'one-or-many'>, v: string): unknown {
  if (kind === 'number') return /^-?\d+(\.\d+)?$/.test(v) ? Number(v) : v;
  if (kind === 'boolean') return v === 'true' || v === '1' ? true : v === 'false' || v === '0' ? false : v;
  return v;
}

/**
 * Query parameters to input fields, typed by the procedure's own schema: numbers and booleans
 * from their text, repeated parameters to arrays. Unknown parameters are passed on for the
 * schema to refuse.
 */
export function queryInput(schema: z.ZodType, params: URLSearchParams, aliases: Record<string, string> = {}): Record<string, unknown> {
  const shape = inputShape(schema) ?? {};
  const out: Record<string, unknown> = {};
  for (const raw of new Set(params.keys())) {
    const key = aliases[raw] && !params.has(aliases[raw]!) ? aliases[raw]! : raw;
    const values = params.getAll(raw);
    const field = shape[key];
    const kind = field ? kindOf(field) : 'string';
    if (kind === 'array' || (kind === 'one-or-many' && values.length > 1)) {
      // Every list parameter of the API is a list of strings (statuses, label selectors).
      out[key] = values;
    } else {
      out[key] = convert(kind === 'one-or-many' ? 'string' : kind, values[values.length - 1]!);
    }
  }
  return out;
}
