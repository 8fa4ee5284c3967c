/**
 * Where parsed JSON holds a key named `__proto__`, as a dotted path (`labels.__proto__`), or
 * null. No input of Hangar's has such a key, and its schemas would not say so: zod's records
 * skip it (assigning it would set the result's prototype), so `{"labels": {"__proto__": …}}`
 * passed as valid with the label gone, and a PATCH of labels replaced them with none. Inputs are
 * checked with this before their schema, and such a key is refused.
 */
export function protoKeyPath(value: unknown): string | null {
  // Most inputs are one flat object (`{id}`): checked without allocating anything.
  if (typeof value !== 'object' || value === null) return null;
  if (!Array.isArray(value)) {
    if (Object.hasOwn(value, '__proto__')) return '__proto__';
    if (!hasObjectValue(value as Record<string, unknown>)) return null;
  }
  return walk(value);
}

function hasObjectValue(o: Record<string, unknown>): boolean {
  for (const k in o) {
    const v = o[k];
    if (typeof v === 'object' && v !== null) return true;
  }
  return false;
}

function walk(value: object): string | null {
  // Depth first, by a stack rather than recursion (a deep input must not overflow the call
  // stack); `trail` holds the keys from the root to the object in hand, so a path is made only
  // for the key found.
  const trail: (string | number)[] = [];
  const stack: [object, number, string | number][] = [];
  const push = (v: unknown, depth: number, key: string | number) => {
    if (typeof v === 'object' && v !== null) stack.push([v, depth, key]);
  };
  push(value, 0, '');
  for (let next = stack.pop(); next; next = stack.pop()) {
    const [v, depth, key] = next;
    trail.length = depth;
    if (depth > 0) trail[depth - 1] = key;
    if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) push(v[i], depth + 1, i);
      continue;
    }
    if (Object.hasOwn(v, '__proto__')) return [...trail, '__proto__'].join('.');
    for (const [k, item] of Object.entries(v)) push(item, depth + 1, k);
  }
  return null;
}
