import type { z } from 'zod';
import type { DriverContext, DriverDefinition } from './definition.js';
import type { HypervisorDriver } from './driver.js';
import { libvirtDefinition } from './libvirt/definition.js';
import { qemuDefinition } from './qemu/definition.js';
import { simulatedDefinition } from './simulated/definition.js';

/** Every driver `HANGAR_DRIVER` can name. A new driver adds its definition here. */
export const DRIVERS = {
  simulated: simulatedDefinition,
  qemu: qemuDefinition,
  libvirt: libvirtDefinition,
} satisfies Record<string, DriverDefinition<z.ZodObject>>;

export type DriverKind = keyof typeof DRIVERS;
export const DRIVER_KINDS = Object.keys(DRIVERS) as [DriverKind, ...DriverKind[]];

/** A driver's settings as read from the environment; issues name the variable and say what is wrong. */
export function readDriverSettings(
  kind: DriverKind,
  env: Record<string, string | undefined>,
): { ok: true; settings: unknown } | { ok: false; issues: string[] } {
  const r = (DRIVERS[kind] as DriverDefinition).settings.safeParse(env);
  if (r.success) return { ok: true, settings: r.data };
  return { ok: false, issues: r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`) };
}

/** The driver of this kind, from settings `readDriverSettings` accepted. */
export async function createDriver(kind: DriverKind, settings: unknown, ctx: DriverContext): Promise<HypervisorDriver> {
  return await (DRIVERS[kind] as DriverDefinition).create(settings as never, ctx);
}
