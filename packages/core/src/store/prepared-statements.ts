import type { Db } from './database.js';

type PrepareQuery = (query: { sql: string }, fields: unknown, name: string | undefined, ...rest: unknown[]) => unknown;
const PREPARING = Symbol.for('hangar.prepareEveryQuery');

/**
 * How many statement texts a process prepares. Each is kept by every connection that ran it
 * (postgres.js and PostgreSQL, until the connection is recycled), and some texts vary with their
 * input (a list's filters, one parameter per value of an IN list): past this many, a new text
 * runs unprepared, as before, so that no tenant grows the server's memory by varying requests.
 * Hangar's own hot statements are a few dozen, and are the first a process sends.
 */
export const MAX_PREPARED_TEXTS = 500;

/**
 * Makes the queries drizzle sends prepared statements of their connection.
 *
 * Why: postgres.js sends a query with parameters that is not prepared in two steps. It first
 * asks the server for the parameters' types (Parse, Describe) and waits for the answer before it
 * sends the values (Bind, Execute): two round trips a query, and PostgreSQL parses and plans it
 * each time. A prepared statement costs that once per connection and statement text; postgres.js
 * keeps them by text, and prepares them again after a reconnect or a change of the tables under
 * them. drizzle prepares only a query given a name (`.prepare(name)`), so each query is given one,
 * up to `MAX_PREPARED_TEXTS` distinct texts.
 */
export function prepareEveryQuery(db: Db): void {
  const proto = Object.getPrototypeOf((db as unknown as { session: object }).session) as {
    prepareQuery: PrepareQuery;
    [PREPARING]?: true;
  };
  if (proto[PREPARING]) return;
  const prepareQuery = proto.prepareQuery;
  const texts = new Set<string>();
  proto.prepareQuery = function (this: unknown, query, fields, name, ...rest) {
    let prepared = name !== undefined || texts.has(query.sql);
    if (!prepared && texts.size < MAX_PREPARED_TEXTS) {
      texts.add(query.sql);
      prepared = true;
    }
    return prepareQuery.call(this, query, fields, prepared ? (name ?? '') : undefined, ...rest);
  };
  proto[PREPARING] = true;
}
