import { errors } from '@hangar/core';
import type { z } from 'zod';
import { inputShape, kindOf } from './query-input.js';

/**
 * Field names of the earlier VM APIs that Hangar replaces, taken by the native API for its own
 * (deprecated: the OpenAPI document lists them as such), so a body copied from an old script
 * works against /api/v1 too. Each means exactly its field: the value is parsed by that field's
 * schema, nothing looser.
 */
export const VM_FIELD_ALIASES = {
  memory: 'memory_mb',
  disk_size: 'disk_gb',
  disk_size_gb: 'disk_gb',
  vcpu_count: 'cpu_cores',
  network_config: 'network',
} as const;

/** Creating a VM: `server_id` names the host (by number, id or name) as `host_id` does. */
export const CREATE_VM_ALIASES = { ...VM_FIELD_ALIASES, server_id: 'host_id' } as const;

/** Changing a VM: `new_name` renames it. */
export const UPDATE_VM_ALIASES = { ...VM_FIELD_ALIASES, new_name: 'name' } as const;

/**
 * `body` with each alias moved to its field. Only aliases of fields the input has are folded
 * (another is left for the schema to refuse as unknown); an alias beside its field, or two
 * aliases of one field, with different values, is a 400. An integer given for a text field
 * (`"server_id": 1`) is that text.
 */
export function foldBodyAliases(
  body: Record<string, unknown>,
  aliases: Readonly<Record<string, string>>,
  schema: z.ZodType,
): Record<string, unknown> {
  const shape = inputShape(schema) ?? {};
  const out = { ...body };
  for (const [alias, field] of Object.entries(aliases)) {
    if (!Object.hasOwn(out, alias) || !shape[field]) continue;
    let value = out[alias];
    delete out[alias];
    if (Number.isInteger(value) && kindOf(shape[field]) === 'string') value = String(value);
    if (Object.hasOwn(out, field) && JSON.stringify(out[field]) !== JSON.stringify(value)) {
      throw errors.validation(`${alias} is another name for ${field}: give one of them (or the same value)`, [
        { path: alias, message: `conflicts with ${field}` },
      ]);
    }
    out[field] = value;
  }
  return out;
}
