import type { GlobalOptions } from '../connection.js';

export type OutputMode = 'json' | 'table';

/** `--json` is short for `--output json` (whose values commander checks). */
export function outputMode(opts: GlobalOptions): OutputMode {
  return opts.json || opts.output === 'json' ? 'json' : 'table';
}
