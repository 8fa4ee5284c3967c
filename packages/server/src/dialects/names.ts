/**
 * The dialects' names, in the order they are tried on a path they share (`/vms/{ref}` is
 * by-name's when it names a VM by name, the id-addressed dialects' otherwise). Apart from the
 * dialects themselves, so that reading the configuration loads none of them.
 */
export const DIALECT_NAMES = ['by-name', 'provisioning', 'lifecycle', 'api-vms', 'crud'] as const;
export type DialectName = (typeof DIALECT_NAMES)[number];

/** `HANGAR_DIALECTS`: `all` (the default), `none`, or a comma-separated list of names. */
export function parseDialects(setting: string): DialectName[] {
  const words = setting
    .split(',')
    .map((w) => w.trim().toLowerCase())
    .filter(Boolean);
  if (words.length === 0 || (words.length === 1 && words[0] === 'all')) return [...DIALECT_NAMES];
  if (words.length === 1 && words[0] === 'none') return [];
  const unknown = words.filter((w) => !(DIALECT_NAMES as readonly string[]).includes(w));
  if (unknown.length) throw new Error(`unknown dialect ${unknown.join(', ')}: choose from all, none, ${DIALECT_NAMES.join(', ')}`);
  return DIALECT_NAMES.filter((n) => words.includes(n));
}
