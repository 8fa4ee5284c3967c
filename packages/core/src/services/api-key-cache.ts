import type { Principal } from '../domain/auth.js';
import type { Db } from '../store/database.js';
import { perDatabase } from '../store/per-database.js';

/**
 * Principals of recently used API keys, for a moment: authenticating every request with a
 * database round trip costs as much as the request itself. A key revoked in this process is
 * dropped at once; in other processes it keeps working for at most TTL_MS.
 */
export const API_KEY_CACHE_TTL_MS = 2_000;
const MAX_ENTRIES = 10_000;

type Entry = { principal: Principal; until: number };
const cacheOf = perDatabase(() => new Map<string, Entry>());

export function cachedPrincipal(db: Db, keyHash: string): Principal | null {
  const c = cacheOf(db);
  const e = c.get(keyHash);
  if (!e) return null;
  if (e.until <= Date.now()) {
    c.delete(keyHash);
    return null;
  }
  return e.principal;
}

export function rememberPrincipal(db: Db, keyHash: string, principal: Principal, expiresAt: Date | null): void {
  const c = cacheOf(db);
  if (c.size >= MAX_ENTRIES) c.clear();
  c.set(keyHash, { principal, until: Math.min(Date.now() + API_KEY_CACHE_TTL_MS, expiresAt?.getTime() ?? Infinity) });
}

export function forgetApiKey(db: Db, keyId: string): void {
  const c = cacheOf(db);
  for (const [hash, e] of c) if (e.principal.api_key_id === keyId) c.delete(hash);
}
