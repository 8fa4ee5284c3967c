import { parseArgs } from 'node:util';
import { createKeyForUser, dataDirectory, openDatabase } from '@hangar/core';
import { loadConfig } from './config.js';
import { startServer } from './server.js';

const HELP = `hangar: a control plane for virtual machines

Usage:
  hangar serve                  Serve the API (HOST, default 127.0.0.1; PORT, default 8080) with its worker
  hangar migrate                Apply database migrations and exit
  hangar admin create-key [--user admin] [--project NAME] [--name NAME] [--role viewer|operator|admin]
                                Print a new API key for a user (--project when the name is used in several)

Environment: DATABASE_URL (else an embedded PostgreSQL in HANGAR_DATA_DIR, default ./.hangar),
HANGAR_BOOTSTRAP_API_KEY, HANGAR_ADMIN_PASSWORD, HANGAR_JWT_SECRET, LOG_LEVEL. See docs/operations.md.
`;

async function serve(): Promise<void> {
  const server = await startServer({ config: loadConfig() });
  process.stdout.write(`Hangar is serving on ${server.url} (tRPC at ${server.url}/trpc)\n`);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) {
      server.log.warn({ signal }, 'second signal: exiting at once');
      process.exit(1);
    }
    stopping = true;
    server.log.info({ signal }, 'signal received');
    server.close().then(
      () => process.exit(0),
      (err: unknown) => {
        server.log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  // Our shutdown releases leases first and stops the embedded cluster last (it runs in its own
  // session, so the terminal's Ctrl-C reaches only us).
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(signal, () => stop(signal));
}

async function migrate(): Promise<void> {
  const config = loadConfig();
  const database = await openDatabase({ url: config.DATABASE_URL, dataDir: dataDirectory(config.HANGAR_DATA_DIR) });
  await database.close();
  process.stdout.write('Database is up to date.\n');
}

async function createKey(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      user: { type: 'string', default: 'admin' },
      project: { type: 'string' },
      name: { type: 'string', default: 'cli' },
      role: { type: 'string' },
    },
  });
  const config = loadConfig();
  const database = await openDatabase({ url: config.DATABASE_URL, dataDir: dataDirectory(config.HANGAR_DATA_DIR) });
  try {
    const { key } = await createKeyForUser(database.db, {
      username: values.user!,
      project: values.project,
      name: values.name!,
      role: values.role,
    });
    process.stdout.write(`${key}\n`);
  } finally {
    await database.close();
  }
}

export async function main(argv: string[]): Promise<void> {
  // Whatever this process and the programs it starts (QEMU, qemu-img) create is private to
  // Hangar's user; the places Hangar writes itself also set their modes explicitly.
  process.umask(0o077);
  const [command, sub, ...rest] = argv;
  switch (command) {
    case 'serve':
      return serve();
    case 'migrate':
      return migrate();
    case 'admin':
      if (sub === 'create-key') return createKey(rest);
      break;
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(HELP);
      return;
  }
  process.stderr.write(`Unknown command: ${argv.join(' ')}\n\n${HELP}`);
  process.exitCode = 2;
}
