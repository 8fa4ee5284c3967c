/** What the global setup hands every test file. */
declare module 'vitest' {
  export interface ProvidedContext {
    /** A PostgreSQL URL with the right to create databases: one per test file. */
    pgAdminUrl: string;
    /** 'external' when DATABASE_URL was given, else 'embedded'. */
    pgMode: 'embedded' | 'external';
  }
}

export {};
