import { type Command, Option } from 'commander';
import { connect } from '../connection.js';
import { optionsOf, positiveInt } from '../options.js';
import { printJson } from '../output/json.js';
import { outputMode } from '../output/mode.js';
import { printTable } from '../output/table.js';
import { formatAge } from '../output/units.js';

const ROLES = ['viewer', 'operator', 'admin'] as const;

export function registerKey(program: Command): void {
  const key = program.command('key').description('API keys');

  key
    .command('ls')
    .description('list API keys (yours; an admin sees the project’s)')
    .action(async (_flags, self: Command) => {
      const opts = optionsOf(self);
      const client = await connect(opts);
      const keys = await client.listApiKeys();
      if (outputMode(opts) === 'json') return printJson(keys);
      await printTable(
        ['ID', 'NAME', 'PREFIX', 'ROLE', 'CREATED', 'LAST USED', 'EXPIRES', 'REVOKED'],
        keys.map((k) => [k.id, k.name, k.prefix, k.role, formatAge(k.created_at), formatAge(k.last_used_at), k.expires_at, k.revoked_at]),
      );
    });

  key
    .command('create')
    .description('create an API key; the key is shown this once')
    .argument('<name>', 'what it is for')
    .addOption(new Option('--role <role>', "the key's role (default: its owner's)").choices(ROLES))
    .option('--expires-in-days <days>', 'it stops working after this many days', positiveInt)
    .option('--user <user-id>', "another user's key (admins)")
    .action(async (name: string, _flags, self: Command) => {
      const opts = optionsOf<{ role?: (typeof ROLES)[number]; expiresInDays?: number; user?: string }>(self);
      const client = await connect(opts);
      const created = await client.createApiKey({ name, role: opts.role, expires_in_days: opts.expiresInDays, user_id: opts.user });
      if (outputMode(opts) === 'json') return printJson(created);
      process.stdout.write(`${created.key}\n`);
      process.stderr.write(`API key ${created.api_key.name} (${created.api_key.id}, ${created.api_key.role}). It is not shown again.\n`);
    });

  key
    .command('revoke')
    .description('revoke an API key; it stops working at once')
    .argument('<id>', 'the key id (from hgr key ls)')
    .action(async (id: string, _flags, self: Command) => {
      const opts = optionsOf(self);
      const client = await connect(opts);
      const revoked = await client.revokeApiKey(id);
      if (outputMode(opts) === 'json') return printJson(revoked);
      process.stdout.write(`revoked API key ${id}\n`);
    });
}
