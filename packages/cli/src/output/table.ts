/**
 * Tables for people, drawn by cli-table3. Imported on first use: commands answering JSON (and
 * the ones printing nothing) do not pay for loading it.
 */

export type Cell = string | number | boolean | null | undefined;

const show = (c: Cell) => (c === null || c === undefined || c === '' ? '-' : String(c));

/**
 * Borderless, columns two spaces apart, like `kubectl get`: it reads in a terminal and greps
 * line by line. No colours: a header in escape codes garbles `grep` and files.
 */
const PLAIN = {
  chars: {
    top: '',
    'top-mid': '',
    'top-left': '',
    'top-right': '',
    bottom: '',
    'bottom-mid': '',
    'bottom-left': '',
    'bottom-right': '',
    left: '',
    'left-mid': '',
    mid: '',
    'mid-mid': '',
    right: '',
    'right-mid': '',
    middle: '  ',
  },
  style: { head: [], border: [], 'padding-left': 0, 'padding-right': 0 },
};

/** Rows under a header. */
export async function renderTable(head: string[], rows: Cell[][]): Promise<string> {
  const { default: Table } = await import('cli-table3');
  const table = new Table({ ...PLAIN, head });
  table.push(...rows.map((r) => r.map(show)));
  // cli-table3 pads the last column too; trailing blanks only get in the way of diffs and greps.
  return table
    .toString()
    .split('\n')
    .map((l) => l.trimEnd())
    .join('\n');
}

/** One object as `field:  value` lines (what `get` shows). */
export async function renderDetails(pairs: [string, Cell][]): Promise<string> {
  const { default: Table } = await import('cli-table3');
  const table = new Table(PLAIN);
  table.push(...pairs.map(([k, v]) => [`${k}:`, show(v)]));
  return table
    .toString()
    .split('\n')
    .map((l) => l.trimEnd())
    .join('\n');
}

export async function printTable(head: string[], rows: Cell[][]): Promise<void> {
  process.stdout.write(`${await renderTable(head, rows)}\n`);
}

export async function printDetails(pairs: [string, Cell][]): Promise<void> {
  process.stdout.write(`${await renderDetails(pairs)}\n`);
}
