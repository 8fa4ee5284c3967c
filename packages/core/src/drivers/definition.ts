import type { z } from 'zod';
import type { HypervisorDriver } from './driver.js';

/** What every driver is given besides its own settings. */
export interface DriverContext {
  /** Hangar's data directory: the driver keeps its domains' files below it. */
  data_dir: string;
}

/**
 * How Hangar makes a driver of one kind: its own settings, read from the environment (only its
 * keys, `HANGAR_QEMU_…`; a bad value stops the start naming it), and the factory. The
 * registry (`registry.ts`) lists one per `HANGAR_DRIVER` value.
 */
export interface DriverDefinition<S extends z.ZodObject = z.ZodObject> {
  /** One line for `HANGAR_DRIVER`'s documentation. */
  description: string;
  settings: S;
  /**
   * The driver. A driver that needs large libraries (XML, archives) imports its module here,
   * with `await import(...)`, so a server that runs another driver never loads them.
   */
  create(settings: z.output<S>, ctx: DriverContext): HypervisorDriver | Promise<HypervisorDriver>;
}

export function defineDriver<S extends z.ZodObject>(def: DriverDefinition<S>): DriverDefinition<S> {
  return def;
}
