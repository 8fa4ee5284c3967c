import type { z } from 'zod';
import { errors } from '../domain/errors.js';
import { Uuid } from '../domain/fields.js';

/** Parses service input with its schema; failures become a VALIDATION error naming each field. */
export function parse<S extends z.ZodType>(schema: S, input: unknown, what = 'input'): z.output<S> {
  const r = schema.safeParse(input);
  if (r.success) return r.data;
  throw errors.fromZod(r.error, what);
}

export function parseId(id: unknown, what = 'id'): string {
  return parse(Uuid, id, what);
}
