import postgres from 'postgres';

/**
 * A postgres.js client for a connection string, including libpq's form for a unix socket,
 * `postgres://user:pass@localhost:5432/db?host=/socket/dir` (postgres.js reads the host only from
 * the URL's authority, and would send an unknown `host` parameter to the server).
 */
export function connectPostgres(url: string, options: postgres.Options<Record<string, postgres.PostgresType>> = {}): postgres.Sql {
  const parsed = new URL(url);
  const socketDir = parsed.searchParams.get('host');
  if (!socketDir?.startsWith('/')) return postgres(url, options);
  parsed.searchParams.delete('host');
  return postgres(parsed.toString(), { ...options, host: socketDir, port: Number(parsed.port || 5432) });
}
