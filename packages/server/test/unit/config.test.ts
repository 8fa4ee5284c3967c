import { DRIVER_KINDS, DRIVERS } from '@hangar/core';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';

// Settings come from the environment; the driver's own come from its definition in the
// registry. A bad value stops the start with a line naming it.
describe('loadConfig', () => {
  it('reads the named driver’s settings with its defaults', () => {
    expect(loadConfig({ HANGAR_DRIVER: 'qemu' }).driver_settings).toMatchObject({
      HANGAR_QEMU_ACCEL: 'auto',
      HANGAR_QEMU_BINARY: 'qemu-system-x86_64',
    });
    expect(loadConfig({ HANGAR_SIM_SEED: '9' }).driver_settings).toEqual({ HANGAR_SIM_SEED: 9 });
  });

  it('refuses a bad value of the driver’s settings, and of the server’s, naming each', () => {
    expect(() => loadConfig({ HANGAR_DRIVER: 'qemu', HANGAR_QEMU_ACCEL: 'hvf', PORT: 'eighty' })).toThrow(
      /Invalid configuration:\n {2}PORT: .*\n {2}HANGAR_QEMU_ACCEL: /,
    );
    expect(() => loadConfig({ HANGAR_SIM_LATENCY_MS: 'slow' })).toThrow(/HANGAR_SIM_LATENCY_MS must be a number of ms/);
  });

  it('checks only the named driver’s settings', () => {
    expect(() => loadConfig({ HANGAR_DRIVER: 'qemu', HANGAR_SIM_LATENCY_MS: 'slow' })).not.toThrow();
  });

  it('knows every registered driver, and no other', () => {
    expect(DRIVER_KINDS).toEqual(Object.keys(DRIVERS));
    for (const kind of DRIVER_KINDS) expect(loadConfig({ HANGAR_DRIVER: kind }).HANGAR_DRIVER).toBe(kind);
    expect(() => loadConfig({ HANGAR_DRIVER: 'xen' })).toThrow(/HANGAR_DRIVER/);
  });
});
