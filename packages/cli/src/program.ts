import { Command, Option } from 'commander';
import { registerCompletion } from './commands/completion.js';
import { registerHost } from './commands/host.js';
import { registerImage } from './commands/image.js';
import { registerKey } from './commands/key.js';
import { registerLogin } from './commands/login.js';
import { registerOp } from './commands/op.js';
import { registerVm } from './commands/vm.js';
import { EXIT_CODES_HELP } from './exit-codes.js';

export const VERSION = '0.1.0';

/**
 * The whole command tree. Errors are not printed and exited on by commander itself
 * (`exitOverride`): `main` maps every failure, commander's usage errors included, to the
 * documented exit codes. Subcommands inherit that setting, so it is set before they are added.
 */
export function buildProgram(): Command {
  const program = new Command('hgr')
    .description('hgr: the Hangar command line. VMs, images, operations, hosts and API keys, through @hangar/sdk.')
    .version(VERSION, '-V, --version')
    .option('--url <url>', 'the Hangar server (else HANGAR_URL, else the one `hgr login` saved, else http://127.0.0.1:8080)')
    .option('--api-key <key>', 'the API key (else HANGAR_API_KEY, else the one `hgr login` saved)')
    .option('--json', 'print JSON (the SDK’s objects) instead of tables; same as --output json')
    .addOption(new Option('--output <format>', 'json or table').choices(['json', 'table']).default('table'))
    .option('--no-progress', 'never draw spinners or progress bars (they only ever go to a terminal on stderr)')
    .showHelpAfterError('(run with --help for usage)')
    .configureHelp({ showGlobalOptions: true, sortSubcommands: false })
    .exitOverride()
    .addHelpText('after', `\n${EXIT_CODES_HELP}\n\nOutput: tables for people; --json for scripts (watch: one JSON object per line).`);
  registerLogin(program);
  registerVm(program);
  registerImage(program);
  registerOp(program);
  registerHost(program);
  registerKey(program);
  registerCompletion(program);
  return program;
}
