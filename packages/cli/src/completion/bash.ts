import { allNodes, type CompletionNode } from './tree.js';

const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * A bash completion script: the words before the cursor are walked to the deepest known
 * subcommand (options and their values skipped), and that command's subcommands and options
 * are offered; after an option with a fixed set of values, those values. Paths it does not
 * know fall back to file names (`complete -o default`), which is what export, import and
 * upload take.
 */
export function bashScript(root: CompletionNode): string {
  const nodes = allNodes(root);
  const bin = root.name;
  const key = (n: CompletionNode) => n.path.join(' ');
  const valued = new Set(nodes.flatMap((n) => n.options.filter((o) => o.takesValue).flatMap((o) => o.flags)));
  const paths = nodes
    .filter((n) => n.path.length)
    .map((n) => `    ${q(key(n))}) cmdpath=${q(key(n))} ;;`)
    .join('\n');
  const words = nodes
    .map((n) => `    ${q(key(n))}) words=${q([...n.children.map((c) => c.name), ...n.options.flatMap((o) => o.flags)].join(' '))} ;;`)
    .join('\n');
  const choices = [
    ...new Map(
      nodes.flatMap((n) =>
        n.options.filter((o) => o.choices.length).flatMap((o) => o.flags.map((f) => [`${key(n)}|${f}`, o.choices] as const)),
      ),
    ),
  ]
    .map(([k, c]) => `    ${q(k)}) COMPREPLY=($(compgen -W ${q(c.join(' '))} -- "$cur")); return ;;`)
    .join('\n');
  return `# ${bin} completion for bash. Load it with:
#   source <(${bin} completion bash)
# or save it as ~/.local/share/bash-completion/completions/${bin}
_${bin}_completion() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" prev="\${COMP_WORDS[COMP_CWORD-1]}" cmdpath="" words="" w i
  for ((i = 1; i < COMP_CWORD; i++)); do
    w="\${COMP_WORDS[i]}"
    case "$w" in
      ${[...valued].join('|')}) ((i++)); continue ;;
      -*) continue ;;
    esac
    case "\${cmdpath:+$cmdpath }$w" in
${paths}
    esac
  done
  case "$cmdpath|$prev" in
${choices}
  esac
  case "$cmdpath" in
${words}
  esac
  COMPREPLY=($(compgen -W "$words" -- "$cur"))
}
complete -o default -F _${bin}_completion ${bin}
`;
}
