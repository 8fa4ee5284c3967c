import { is, Param, Placeholder, SQL, sql } from 'drizzle-orm';
import type { Tx } from './database.js';

/**
 * How many shapes of one statement a process keeps built. Shapes come from which columns a write
 * sets and which of them are null: a create's are few, an ending's follow what an agent reports.
 * Past this many, that statement is built each time, as before (a statement's cap is its own:
 * an agent that varies its reports cannot make creates slower).
 */
export const MAX_SHAPES_PER_STATEMENT = 100;

/** How a statement's values are bound: `value` gives what goes in the statement for a value, `part` names a way its text varies. */
export interface Binder {
  value(name: string, v: unknown): unknown;
  part(description: string): void;
}

interface Query {
  sql: string;
  params: unknown[];
}

interface Internals {
  dialect: { sqlToQuery(q: SQL): Query };
  session: {
    prepareQuery(
      q: Query,
      fields: undefined,
      name: undefined,
      arrayMode: false,
    ): { execute(values: Record<string, unknown>): Promise<unknown> };
  };
}

/** Built statements by name and shape; null: the shape's statement has values of its own (built each time). */
const built = new Map<string, Query | null>();
/** How many shapes of each statement are kept. */
const shapesOf = new Map<string, number>();

/** The shapes of a statement whose text is kept (a statement with values of its own has none): for tests. */
export function keptShapes(name: string): string[] {
  return [...built].filter(([key, query]) => query && key.startsWith(`${name}|`)).map(([key]) => key);
}

/**
 * A hot write (a create's rows, an operation's ending) built once per shape and run with its
 * values as placeholders.
 *
 * Why: drizzle turns a statement into text and parameters by walking every chunk of it, each
 * through its `is()` type checks; for a create's rows (a VM, its operation, two events: some
 * fifty columns) took about 0.3 ms of CPU, an operation's ending 0.2 ms: a tenth of the server's
 * time under creates. The text depends only on which columns are written and which of them are
 * null, so it is built once for each such shape and reused.
 *
 * Use: pass each row through `row` (and lone values through `value`), build the statement from
 * what they return, and run it with `execute`. A statement whose text holds a value of its own
 * (one not passed through here) is found when first built and is then built every time.
 */
export class StatementTemplate implements Binder {
  private readonly values: Record<string, unknown> = {};
  private readonly shape: string[] = [];
  /** SQL written as columns' values: their text is part of the shape. */
  private readonly fragments: SQL[] = [];

  constructor(private readonly name: string) {}

  /**
   * The row with its values replaced by placeholders named `<prefix>.<column>`. A null becomes
   * SQL NULL in the text (a JSON column's encoder would write JSON `null`); SQL stays as written
   * (its text is part of the shape; one holding a value makes the statement built every time);
   * an undefined column is left out, as drizzle leaves it out.
   */
  row<T extends Record<string, unknown>>(prefix: string, row: T): T {
    const out: Record<string, unknown> = {};
    const keys: string[] = [];
    for (const [key, v] of Object.entries(row)) {
      if (v === undefined) continue;
      if (v === null) {
        out[key] = sql`NULL`;
        keys.push(`${key}=null`);
      } else if (is(v, SQL)) {
        out[key] = v;
        keys.push(`${key}=sql${this.fragments.push(v)}`);
      } else {
        out[key] = this.value(`${prefix}.${key}`, v);
        keys.push(key);
      }
    }
    this.shape.push(`${prefix}(${keys.join(',')})`);
    return out as T;
  }

  /** A placeholder for one value (given as the driver takes it: no column encodes it). */
  value(name: string, v: unknown): Placeholder<string, unknown> {
    this.values[name] = v;
    return sql.placeholder(name);
  }

  /** Names a way the statement's text varies (a part it may or may not have): part of its shape. */
  part(description: string): void {
    this.shape.push(description);
  }

  /** Runs the statement `build` makes (built only for a shape not seen before) with the values given. */
  async execute<R>(tx: Tx, build: () => SQL): Promise<R[]> {
    const { dialect, session } = tx as unknown as Internals;
    // A fragment's text is short to build, and two fragments of one text are the same statement.
    const fragments = this.fragments.map((f) => dialect.sqlToQuery(f));
    const key = [this.name, ...this.shape, ...fragments.map((f) => f.sql)].join('|');
    let query = fragments.some((f) => f.params.length > 0) ? null : built.get(key);
    if (!query) {
      query = dialect.sqlToQuery(build());
      const own = query.params.some((p) => !is(p, Placeholder) && !(is(p, Param) && is(p.value, Placeholder)));
      const kept = shapesOf.get(this.name) ?? 0;
      if (kept < MAX_SHAPES_PER_STATEMENT && !built.has(key)) {
        built.set(key, own ? null : query);
        shapesOf.set(this.name, kept + 1);
      }
    }
    return (await session.prepareQuery(query, undefined, undefined, false).execute(this.values)) as R[];
  }
}
