import { allNodes, type CompletionNode } from './tree.js';

const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
/** `_describe` splits on the first unescaped colon. */
const described = (word: string, description: string) => q(`${word.replace(/:/g, '\\:')}:${description}`);

/**
 * A zsh completion script (native, with descriptions): the words before the cursor lead to
 * the deepest known subcommand, whose subcommands and options are offered; after an option
 * with a fixed set of values, those values; otherwise files.
 */
export function zshScript(root: CompletionNode): string {
  const nodes = allNodes(root);
  const bin = root.name;
  const key = (n: CompletionNode) => n.path.join(' ');
  const valued = new Set(nodes.flatMap((n) => n.options.filter((o) => o.takesValue).flatMap((o) => o.flags)));
  const paths = nodes
    .filter((n) => n.path.length)
    .map((n) => `      ${q(key(n))}) cmdpath=${q(key(n))} ;;`)
    .join('\n');
  const offers = nodes
    .map((n) => {
      const commands = n.children.map((c) => described(c.name, c.description)).join(' ');
      const options = n.options.flatMap((o) => o.flags.map((f) => described(f, o.description))).join(' ');
      return `    ${q(key(n))}) commands=(${commands}); options=(${options}) ;;`;
    })
    .join('\n');
  const choices = [
    ...new Map(
      nodes.flatMap((n) =>
        n.options.filter((o) => o.choices.length).flatMap((o) => o.flags.map((f) => [`${key(n)}|${f}`, o.choices] as const)),
      ),
    ),
  ]
    .map(([k, c]) => `    ${q(k)}) values=(${c.map(q).join(' ')}); _describe -t values 'value' values; return ;;`)
    .join('\n');
  return `#compdef ${bin}
# ${bin} completion for zsh. Load it with:
#   source <(${bin} completion zsh)
# or save it as _${bin} in a directory of your $fpath.
_${bin}() {
  local cmdpath="" w i
  local -a commands options values
  for ((i = 2; i < CURRENT; i++)); do
    w="\${words[i]}"
    case "$w" in
      ${[...valued].join('|')}) ((i++)); continue ;;
      -*) continue ;;
    esac
    case "\${cmdpath:+$cmdpath }$w" in
${paths}
    esac
  done
  case "$cmdpath|\${words[CURRENT-1]}" in
${choices}
  esac
  case "$cmdpath" in
${offers}
  esac
  if [[ "\${words[CURRENT]}" == -* ]]; then
    _describe -t options 'option' options
  elif (( \${#commands} )); then
    _describe -t commands 'command' commands
  else
    _files
  fi
}
compdef _${bin} ${bin}
`;
}
