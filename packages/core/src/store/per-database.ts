import type { Db } from './database.js';

/**
 * What `make` gives for a database, made once per database and kept while it lives: a hot read's
 * query built once (drizzle walks every chunk of a query each time it turns it into text), not at
 * every call.
 */
export function perDatabase<T>(make: (db: Db) => T): (db: Db) => T {
  const made = new WeakMap<Db, T>();
  return (db) => {
    let v = made.get(db);
    if (v === undefined) {
      v = make(db);
      made.set(db, v);
    }
    return v;
  };
}
