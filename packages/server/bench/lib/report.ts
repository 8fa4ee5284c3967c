export interface Row {
  metric: string;
  hangar: string;
  baseline?: string;
  ratio?: number;
  goal?: string;
  met?: boolean;
}

/** The results as a fixed-width table. */
export function table(rows: Row[]): string {
  const cells = rows.map((r) => [
    r.metric,
    r.hangar,
    r.baseline ?? '',
    r.ratio === undefined ? '' : `${r.ratio.toFixed(2)}x`,
    r.goal ?? '',
    r.met === undefined ? '' : r.met ? 'met' : 'MISSED',
  ]);
  const head = ['metric', 'hangar', 'baseline', 'ratio', 'goal', ''];
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]) =>
    c
      .map((v, i) => v.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.map(line)].join('\n');
}

export const ms = (v: number) => `${v.toFixed(1)} ms`;
export const us = (v: number) => `${v.toFixed(0)} µs`;
export const perS = (v: number) => `${v.toFixed(0)}/s`;
export const mb = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MB`;
export const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`;
