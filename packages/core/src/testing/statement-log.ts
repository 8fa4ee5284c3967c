/**
 * The statements a piece of code sends: give `onStatement` to `createTestDatabase`, then ask
 * `during` what one call sent. The notices' `pg_notify` is left out: it goes after the commit,
 * on its own schedule.
 */
export class StatementLog {
  private sent: string[] | null = null;

  readonly onStatement = (query: string): void => {
    if (this.sent && !query.includes('pg_notify')) this.sent.push(query.trim());
  };

  /** What `run` sent, each statement as written. */
  async during(run: () => Promise<unknown>): Promise<string[]> {
    this.sent = [];
    try {
      await run();
      return this.sent;
    } finally {
      this.sent = null;
    }
  }
}

/** A statement's first two words, lower-cased (`begin`, `with placed`, `select "id",`). */
export const firstWords = (query: string): string => query.split(/\s+/).slice(0, 2).join(' ').toLowerCase();
