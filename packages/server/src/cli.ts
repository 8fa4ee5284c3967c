import { parseArgs } from 'node:util';
import { createJoinToken, createKeyForUser, dataDirectory, openDatabase } from '@hangar/core';
import { loadAgentConfig } from './agent/config.js';
import { loadConfig } from './config.js';
import { exitOnUncaught } from './last-resort.js';
import { createLogger } from './logger.js';

const HELP = `hangar: a control plane for virtual machines

Usage:
  hangar serve                  Serve the API (HOST, default 127.0.0.1; PORT, default 8080) with its worker;
                                HANGAR_MODE=api serves the API alone, for a fleet run by agents
  hangar agent                  Run this machine's hypervisor for a fleet (HANGAR_API_URL, HANGAR_JOIN_TOKEN,
                                HANGAR_HOST_NAME, HANGAR_DRIVER, HANGAR_DATA_DIR)
  hangar migrate                Apply database migrations and exit
  hangar admin create-key [--user admin] [--project NAME] [--name NAME] [--role viewer|operator|admin]
                                Print a new API key for a user (--project when the name is used in several)
  hangar admin create-join-token [--description TEXT] [--expires-in-hours 24]
                                Print a token agents join the fleet with

Environment: DATABASE_URL (else an embedded PostgreSQL in HANGAR_DATA_DIR, default ./.hangar),
HANGAR_BOOTSTRAP_API_KEY, HANGAR_ADMIN_PASSWORD, HANGAR_JWT_SECRET, LOG_LEVEL. See docs/operations.md.
`;

async function serve(): Promise<void> {
  const config = loadConfig();
  const log = createLogger(config.LOG_LEVEL);
  exitOnUncaught(log);
  // Each command loads only its own half: a server has no use for the agent's tRPC client, nor an agent for the API.
  const { startServer } = await import('./server.js');
  const server = await startServer({ config, log });
  process.stdout.write(`Hangar is serving on ${server.url} (tRPC at ${server.url}/trpc)\n`);
  // Our shutdown releases leases first and stops the embedded cluster last (it runs in its own
  // session, so the terminal's Ctrl-C reaches only us).
  stopOnSignals(server);
}

async function agent(): Promise<void> {
  const config = loadAgentConfig();
  const log = createLogger(config.LOG_LEVEL);
  exitOnUncaught(log);
  const { startAgent } = await import('./agent/run-agent.js');
  const running = await startAgent(config, { log });
  process.stdout.write(`Hangar agent is running host ${running.host_name} (${running.host_id})\n`);
  stopOnSignals(running);
}

/** The first signal shuts down gracefully; a second one exits at once. */
function stopOnSignals(proc: {
  log: { info: (o: object, m: string) => void; warn: (o: object, m: string) => void; error: (o: object, m: string) => void };
  close(): Promise<void>;
}): void {
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) {
      proc.log.warn({ signal }, 'second signal: exiting at once');
      process.exit(1);
    }
    stopping = true;
    proc.log.info({ signal }, 'signal received');
    proc.close().then(
      () => process.exit(0),
      (err: unknown) => {
        proc.log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(signal, () => stop(signal));
}

async function createJoinTokenCommand(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: { description: { type: 'string', default: '' }, 'expires-in-hours': { type: 'string', default: '24' } },
  });
  const config = loadConfig();
  const database = await openDatabase({ url: config.DATABASE_URL, dataDir: dataDirectory(config.HANGAR_DATA_DIR) });
  try {
    const { token, join_token } = await createJoinToken(database.db, 'hangar admin', {
      description: values.description,
      expires_in_hours: Number(values['expires-in-hours']),
    });
    process.stdout.write(`${token}\n`);
    process.stderr.write(`(expires ${join_token.expires_at}; give it to \`hangar agent\` as HANGAR_JOIN_TOKEN)\n`);
  } finally {
    await database.close();
  }
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
  // Asking for help anywhere is asked of the whole command: `hangar serve --help` must print
  // this, not start a server, and `hangar admin --help` is not an unknown command.
  if (argv.some((a) => a === '--help' || a === '-h')) {
    process.stdout.write(HELP);
    return;
  }
  const [command, sub, ...rest] = argv;
  switch (command) {
    case 'serve':
      return serve();
    case 'agent':
      return agent();
    case 'migrate':
      return migrate();
    case 'admin':
      if (sub === 'create-key') return createKey(rest);
      if (sub === 'create-join-token') return createJoinTokenCommand(rest);
      break;
    case undefined:
    case 'help':
      process.stdout.write(HELP);
      return;
  }
  process.stderr.write(`Unknown command: ${argv.join(' ')}\n\n${HELP}`);
  process.exitCode = 2;
}
