import { type Command, InvalidArgumentError } from 'commander';
import type { GlobalOptions } from './connection.js';
import { showProgress } from './progress/tty.js';

/** Every option a command sees: its own and the root's (`--url`, `--json`, …). */
export function optionsOf<T extends object>(cmd: Command): T & GlobalOptions & { progress?: boolean } {
  return cmd.optsWithGlobals() as T & GlobalOptions & { progress?: boolean };
}

export function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a whole number above 0');
  return n;
}

/** Repeatable `--label key=value`, gathered into one object. */
export function keyValue(value: string, previous: Record<string, string> = {}): Record<string, string> {
  const eq = value.indexOf('=');
  if (eq < 1) throw new InvalidArgumentError('expected key=value');
  return { ...previous, [value.slice(0, eq)]: value.slice(eq + 1) };
}

/** Repeatable options gathered into a list (`--status running --status paused`). */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

export interface WaitFlags {
  wait?: boolean;
  waitTimeout?: number;
}

/** `--wait` and `--wait-timeout`, the same on every command that starts an operation. */
export function addWaitOptions(cmd: Command): Command {
  return cmd
    .option('-w, --wait', 'wait until the operation has finished, showing its progress (Ctrl-C stops waiting, not the operation)')
    .option('--wait-timeout <seconds>', 'give up waiting after this long (exit 7)', positiveInt, 600);
}

export interface WaitSettings {
  timeoutMs: number;
  progress: boolean;
}

export function waitSettings(opts: WaitFlags & { progress?: boolean }): WaitSettings {
  return { timeoutMs: (opts.waitTimeout ?? 600) * 1000, progress: showProgress(opts) };
}
