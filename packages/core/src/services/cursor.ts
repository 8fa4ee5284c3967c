import { errors } from '../domain/errors.js';
import { Uuid } from '../domain/fields.js';

/** Keyset position: the (created_at, id) of the last row a page returned. */
export interface Position {
  created_at: Date;
  id: string;
}

/** 9999-12-31: far past any row's creation, well inside PostgreSQL's timestamp range. */
const MAX_CURSOR_MS = 253_402_300_799_000;

export function encodeCursor(p: Position): string {
  return Buffer.from(JSON.stringify([p.created_at.getTime(), p.id])).toString('base64url');
}

export function decodeCursor(cursor: string): Position {
  try {
    const [ms, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as [unknown, unknown];
    // Within what a row's created_at can be (PostgreSQL's timestamps end long before JS's do).
    if (typeof ms === 'number' && Number.isInteger(ms) && ms >= 0 && ms <= MAX_CURSOR_MS && Uuid.safeParse(id).success) {
      return { created_at: new Date(ms), id: id as string };
    }
  } catch {
    // fall through
  }
  throw errors.validation('Invalid cursor: pass back a next_cursor exactly as it was returned', [
    { path: 'cursor', message: 'not a cursor' },
  ]);
}
