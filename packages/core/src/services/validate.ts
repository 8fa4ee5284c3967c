import type { z } from 'zod';
import { errors } from '../domain/errors.js';
import { Uuid } from '../domain/fields.js';

/** Parses service input with its schema; failures become a VALIDATION error naming each field. */
export function parse<S extends z.ZodType>(schema: S, input: unknown, what = 'input'): z.output<S> {
  const r = schema.safeParse(input);
  if (r.success) return r.data;
  const fields = r.error.issues.map((i) => ({
    path: i.path.map(String).join('.') || '(root)',
    message: i.message,
  }));
  const summary = fields
    .slice(0, 5)
    .map((f) => `${f.path}: ${f.message}`)
    .join('; ');
  throw errors.validation(`Invalid ${what}: ${summary}`, fields);
}

export function parseId(id: unknown, what = 'id'): string {
  return parse(Uuid, id, what);
}
