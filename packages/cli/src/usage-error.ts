/**
 * Flags that parse but do not make sense together (or a missing one), found by a command
 * rather than by commander: exit 2, like commander's own usage errors.
 */
export class UsageError extends Error {
  override name = 'UsageError';
}
