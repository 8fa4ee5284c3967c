import { sqlState } from '../store/database.js';

/** Whether PostgreSQL refused a write for a unique index (this one, when named). */
export function isUniqueViolation(err: unknown, constraint?: string): boolean {
  if (sqlState(err) !== '23505') return false;
  if (!constraint) return true;
  const c =
    (err as { constraint_name?: string }).constraint_name ?? (err as { cause?: { constraint_name?: string } }).cause?.constraint_name;
  return c === constraint;
}
