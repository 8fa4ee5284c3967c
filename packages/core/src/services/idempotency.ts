import { and, eq, sql } from 'drizzle-orm';
import { errors } from '../domain/errors.js';
import type { Scope } from '../domain/project.js';
import type { Tx } from '../store/database.js';
import { idempotencyKeys } from '../store/schema.js';
import { sha256Hex } from './sha256.js';

/** JSON with sorted keys, so equal requests hash equal whatever their key order. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

/**
 * Runs `run` once per (project, key): a repeat with the same request replays the stored
 * answer, a repeat with another request is IDEMPOTENCY_MISMATCH. Must be called inside the
 * mutation's transaction, so the answer is stored only if the mutation commits.
 */
export async function idempotent<T>(tx: Tx, scope: Scope, key: string | undefined, request: unknown, run: () => Promise<T>): Promise<T> {
  if (!key) return run();
  const hash = sha256Hex(canonicalJson(request));
  // Serialises concurrent requests with the same key: the second waits, then replays.
  await tx.execute(sql`SELECT pg_advisory_xact_lock(hashtextextended(${`${scope.project_id}:${key}`}, 0))`);
  const [found] = await tx
    .select()
    .from(idempotencyKeys)
    .where(and(eq(idempotencyKeys.project_id, scope.project_id), eq(idempotencyKeys.key, key)));
  if (found) {
    if (found.request_hash !== hash) throw errors.idempotencyMismatch(key);
    return found.response as T;
  }
  const result = await run();
  await tx.insert(idempotencyKeys).values({ project_id: scope.project_id, key, request_hash: hash, response: result });
  return result;
}
