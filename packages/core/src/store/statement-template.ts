import { is, Param, Placeholder, SQL, sql } from 'drizzle-orm';
import type { Tx } from './database.js';

/**
 * How many statement shapes a process keeps built. Shapes come from Hangar's own code (which
 * columns a write sets, which of them are null), so they are few; past this many, a statement is
 * built each time, as before.
 */
export const MAX_TEMPLATES = 200;

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
export class StatementTemplate {
  private readonly values: Record<string, unknown> = {};
  private readonly shape: string[] = [];

  constructor(private readonly name: string) {}

  /**
   * The row with its values replaced by placeholders named `<prefix>.<column>`. A null becomes
   * SQL NULL in the text (a JSON column's encoder would write JSON `null`); SQL stays as written
   * (it must hold no values); an undefined column is left out, as drizzle leaves it out.
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
        keys.push(`${key}=sql`);
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

  /** Runs the statement `build` makes (built only for a shape not seen before) with the values given. */
  async execute<R>(tx: Tx, build: () => SQL): Promise<R[]> {
    const { dialect, session } = tx as unknown as Internals;
    const key = `${this.name}|${this.shape.join('|')}`;
    let query = built.get(key);
    if (!query) {
      query = dialect.sqlToQuery(build());
      const own = query.params.some((p) => !is(p, Placeholder) && !(is(p, Param) && is(p.value, Placeholder)));
      if (built.size < MAX_TEMPLATES && !built.has(key)) built.set(key, own ? null : query);
    }
    return (await session.prepareQuery(query, undefined, undefined, false).execute(this.values)) as R[];
  }
}
