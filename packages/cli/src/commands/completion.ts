import type { Command } from 'commander';
import { bashScript } from '../completion/bash.js';
import { fishScript } from '../completion/fish.js';
import { completionTree } from '../completion/tree.js';
import { zshScript } from '../completion/zsh.js';
import { UsageError } from '../usage-error.js';

const SCRIPTS = { bash: bashScript, zsh: zshScript, fish: fishScript };

export function registerCompletion(program: Command): void {
  program
    .command('completion')
    .description('print a shell completion script (bash, zsh or fish)')
    .argument('<shell>', 'bash, zsh or fish')
    .addHelpText(
      'after',
      `
  bash:  source <(hgr completion bash)     (or save it in ~/.local/share/bash-completion/completions/hgr)
  zsh:   source <(hgr completion zsh)      (or save it as _hgr in a directory of your $fpath)
  fish:  hgr completion fish | source      (or save it as ~/.config/fish/completions/hgr.fish)`,
    )
    .action((shell: string) => {
      const make = SCRIPTS[shell as keyof typeof SCRIPTS];
      if (!make) throw new UsageError(`no completion for ${shell}: choose bash, zsh or fish`);
      process.stdout.write(make(completionTree(program)));
    });
}
