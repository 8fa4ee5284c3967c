import { allNodes, type CompletionNode } from './tree.js';

const q = (s: string) => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

/**
 * A fish completion script: one `complete` line per subcommand and option, each under the
 * condition that the subcommands leading to it were typed and none of its own yet.
 */
export function fishScript(root: CompletionNode): string {
  const bin = root.name;
  const lines: string[] = [
    `# ${bin} completion for fish. Load it with:`,
    `#   ${bin} completion fish | source`,
    `# or save it as ~/.config/fish/completions/${bin}.fish`,
    `complete -c ${bin} -f`,
  ];
  for (const node of allNodes(root)) {
    // At this node: its path typed (each word seen), and none of its subcommands yet.
    const at = [
      ...(node.path.length ? node.path.map((p) => `__fish_seen_subcommand_from ${p}`) : ['__fish_use_subcommand']),
      ...(node.path.length && node.children.length
        ? [`not __fish_seen_subcommand_from ${node.children.map((c) => c.name).join(' ')}`]
        : []),
    ].join('; and ');
    for (const child of node.children) lines.push(`complete -c ${bin} -n ${q(at)} -a ${child.name} -d ${q(child.description)}`);
    for (const o of node.options) {
      const flags = o.flags.map((f) => (f.startsWith('--') ? `-l ${f.slice(2)}` : `-s ${f.slice(1)}`)).join(' ');
      const value = o.choices.length ? ` -x -a ${q(o.choices.join(' '))}` : o.takesValue ? ' -r -F' : '';
      lines.push(`complete -c ${bin} -n ${q(at)} ${flags}${value} -d ${q(o.description)}`);
    }
  }
  return `${lines.join('\n')}\n`;
}
