import type { Command, Option } from 'commander';

/** What completion needs to know of one command: read from commander's tree, so it never drifts from the real commands. */
export interface CompletionNode {
  /** Subcommand names from the root: [] for hgr itself, ['vm', 'ls'] for `hgr vm ls`. */
  path: string[];
  name: string;
  description: string;
  options: CompletionOption[];
  children: CompletionNode[];
}

export interface CompletionOption {
  /** `--status`, `-w`… */
  flags: string[];
  description: string;
  takesValue: boolean;
  /** The values it accepts, when it has a fixed set. */
  choices: string[];
}

const optionOf = (o: Option): CompletionOption => ({
  flags: [o.long, o.short].filter((f): f is string => !!f),
  description: o.description,
  takesValue: o.required || o.optional,
  choices: o.argChoices ?? [],
});

/** The root's options (`--url`, `--json`…) apply everywhere, so every node offers them beside its own. */
export function completionTree(root: Command): CompletionNode {
  const globals = root.options.filter((o) => !o.hidden).map(optionOf);
  const help: CompletionOption = { flags: ['--help', '-h'], description: 'show help', takesValue: false, choices: [] };
  const walk = (cmd: Command, path: string[]): CompletionNode => ({
    path,
    name: cmd.name(),
    description: cmd.description(),
    options: [...(cmd === root ? [] : cmd.options.filter((o) => !o.hidden).map(optionOf)), ...globals, help],
    children: cmd.commands.filter((c) => !(c as unknown as { _hidden?: boolean })._hidden).map((c) => walk(c, [...path, c.name()])),
  });
  return walk(root, []);
}

/** Every node, depth first. */
export function allNodes(node: CompletionNode): CompletionNode[] {
  return [node, ...node.children.flatMap(allNodes)];
}
