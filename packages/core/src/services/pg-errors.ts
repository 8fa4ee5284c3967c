/** PostgreSQL error codes the services turn into domain errors. */
export function pgCode(err: unknown): string | undefined {
  const cause = (err as { cause?: unknown })?.cause;
  const code = (err as { code?: unknown })?.code ?? (cause as { code?: unknown })?.code;
  return typeof code === 'string' ? code : undefined;
}

export function isUniqueViolation(err: unknown, constraint?: string): boolean {
  if (pgCode(err) !== '23505') return false;
  if (!constraint) return true;
  const c =
    (err as { constraint_name?: string }).constraint_name ?? (err as { cause?: { constraint_name?: string } }).cause?.constraint_name;
  return c === constraint;
}
