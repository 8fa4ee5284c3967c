import type { Db } from './database.js';

type PrepareQuery = (query: unknown, fields: unknown, name: string | undefined, ...rest: unknown[]) => unknown;
const PREPARING = Symbol.for('hangar.prepareEveryQuery');

/**
 * Makes every query drizzle sends a prepared statement of its connection.
 *
 * Why: postgres.js sends a query with parameters that is not prepared in two steps. It first
 * asks the server for the parameters' types (Parse, Describe) and waits for the answer before it
 * sends the values (Bind, Execute): two round trips a query, and PostgreSQL parses and plans it
 * each time. A prepared statement costs that once per connection and statement text; postgres.js
 * keeps them by text, and prepares them again after a reconnect or a change of the tables under
 * them. drizzle prepares only a query given a name (`.prepare(name)`), so each query is given
 * one. The statements a connection keeps are as many as the distinct texts Hangar sends (lists of
 * values are written as arrays, not as one parameter each, where their length varies widely).
 */
export function prepareEveryQuery(db: Db): void {
  const proto = Object.getPrototypeOf((db as unknown as { session: object }).session) as {
    prepareQuery: PrepareQuery;
    [PREPARING]?: true;
  };
  if (proto[PREPARING]) return;
  const prepareQuery = proto.prepareQuery;
  proto.prepareQuery = function (this: unknown, query, fields, name, ...rest) {
    return prepareQuery.call(this, query, fields, name ?? '', ...rest);
  };
  proto[PREPARING] = true;
}
