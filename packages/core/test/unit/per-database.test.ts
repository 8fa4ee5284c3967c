import { describe, expect, it } from 'vitest';
import type { Db } from '../../src/store/database.js';
import { perDatabase } from '../../src/store/per-database.js';

describe('perDatabase', () => {
  it('makes its value once for each database, and a value of its own for another', () => {
    let made = 0;
    const of = perDatabase((db) => ({ db, n: ++made }));
    const a = {} as Db;
    const b = {} as Db;
    expect(of(a)).toBe(of(a));
    expect(of(a).n).toBe(1);
    expect(of(b)).toMatchObject({ db: b, n: 2 });
    expect(of(a).n).toBe(1);
    expect(made).toBe(2);
  });
});
