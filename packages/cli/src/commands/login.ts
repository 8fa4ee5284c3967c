import { text } from 'node:stream/consumers';
import { Client } from '@hangar/sdk';
import type { Command } from 'commander';
import { configPath, readConfig, writeConfig } from '../config-file.js';
import { DEFAULT_URL } from '../connection.js';
import { optionsOf } from '../options.js';
import { printJson } from '../output/json.js';
import { outputMode } from '../output/mode.js';
import { UsageError } from '../usage-error.js';

/**
 * Asks for what was not given, on a terminal only: a script without a terminal gets a usage
 * error rather than a prompt nobody answers. The prompts library is loaded only then.
 */
async function ask(question: { url?: string; defaultUrl: string; needKey: boolean }): Promise<{ url: string; key?: string }> {
  if (!process.stdin.isTTY) {
    throw new UsageError('no API key: pass --api-key (or --api-key-stdin, or set HANGAR_API_KEY) when not on a terminal');
  }
  const { input, password } = await import('@inquirer/prompts');
  const url = question.url ?? (await input({ message: 'Hangar URL', default: question.defaultUrl }, { output: process.stderr }));
  const key = question.needKey ? await password({ message: 'API key', mask: '*' }, { output: process.stderr }) : undefined;
  return { url, key };
}

export function registerLogin(program: Command): void {
  program
    .command('login')
    .description('check a server URL and API key, and save them for later commands')
    .option('--api-key-stdin', 'read the API key from stdin (keeps it out of the shell history and ps)')
    .addHelpText(
      'after',
      `
Takes --url and --api-key (or HANGAR_URL, HANGAR_API_KEY), and asks for what is missing on a
terminal. The key is checked with the server before it is saved to ${configPath()}
(directory 0700, file 0600). Flags and environment variables still win over the saved values.`,
    )
    .action(async (_flags, self: Command) => {
      const opts = optionsOf<{ apiKeyStdin?: boolean }>(self);
      const saved = await readConfig();
      let url = opts.url ?? (process.env.HANGAR_URL || undefined);
      let key =
        opts.apiKey ?? (opts.apiKeyStdin ? (await text(process.stdin)).trim() : undefined) ?? (process.env.HANGAR_API_KEY || undefined);
      if (!key) ({ url, key } = await ask({ url, defaultUrl: saved.url ?? DEFAULT_URL, needKey: true }));
      url = (url ?? saved.url ?? DEFAULT_URL).replace(/\/+$/, '');
      if (!key) throw new UsageError('no API key given');
      const principal = await new Client({ base_url: url, api_key: key }).authenticate();
      const path = await writeConfig({ url, api_key: key });
      if (outputMode(opts) === 'json') return printJson({ url, config_path: path, principal });
      const admin = principal.global_admin ? ', global admin' : '';
      process.stdout.write(`Logged in to ${url} as ${principal.username} (${principal.role}${admin}); saved to ${path}\n`);
    });
}
