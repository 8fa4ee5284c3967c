import { DriverError } from '../driver.js';

/**
 * QEMU's option syntax (`-drive file=...,if=none`): a comma ends a value unless doubled. Every
 * value Hangar places in an option string goes through here, so a name, path or bridge can
 * never add an option of its own (`br=x,helper=sh -c ...`). Control characters have no place
 * in any of them and are refused.
 */
export function optionValue(value: string | number): string {
  const text = String(value);
  if (/[\u0000-\u001f\u007f]/.test(text))
    throw new DriverError('failed', `refusing a QEMU option value with control characters: ${JSON.stringify(text)}`);
  return text.replace(/,/g, ',,');
}

/** `type,key=value,...` with every value escaped; `type` and the keys are Hangar's own constants. */
export function options(type: string | null, values: Record<string, string | number | undefined>): string {
  const parts = type === null ? [] : [type];
  for (const [key, value] of Object.entries(values)) if (value !== undefined) parts.push(`${key}=${optionValue(value)}`);
  return parts.join(',');
}
