import { errors } from '../domain/errors.js';
import { Uuid } from '../domain/fields.js';

/** Keyset position: the (created_at, id) of the last row a page returned. */
export interface Position {
  created_at: Date;
  id: string;
}

export function encodeCursor(p: Position): string {
  return Buffer.from(JSON.stringify([p.created_at.getTime(), p.id])).toString('base64url');
}

export function decodeCursor(cursor: string): Position {
  try {
    const [ms, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as [unknown, unknown];
    if (typeof ms === 'number' && Number.isFinite(ms) && Uuid.safeParse(id).success) {
      return { created_at: new Date(ms), id: id as string };
    }
  } catch {
    // fall through
  }
  throw errors.validation('Invalid cursor: pass back a next_cursor exactly as it was returned', [
    { path: 'cursor', message: 'not a cursor' },
  ]);
}
