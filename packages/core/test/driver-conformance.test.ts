import { join } from 'node:path';
import { QemuDriver } from '../src/drivers/qemu/driver.js';
import { SimulatedDriver } from '../src/index.js';
import { describeDriverConformance, qemuSkipReason, testGuest, waitForText } from '../src/testing/index.js';

// Every driver passes the same suite (src/testing/driver-conformance.ts); a new driver adds its subject here.

describeDriverConformance({
  name: 'simulated',
  skip: null,
  make: (root) =>
    new SimulatedDriver({ disk_dir: join(root, 'disks'), bytes_per_gb: 2 ** 20, config: { state_dir: join(root, 'simulator') } }),
  boot_text: 'console login: ',
  screen: true,
});

const skip = qemuSkipReason();
const boot = skip ? undefined : testGuest();
const booted = new Map<string, number>();
describeDriverConformance({
  name: 'qemu',
  skip,
  make: (root) => new QemuDriver({ root: join(root, 'vms'), accel: 'tcg', boot }),
  // The guest prints this on every boot; each boot of a domain adds one.
  async booted(driver, ref) {
    const count = (booted.get(ref) ?? 0) + 1;
    booted.set(ref, count);
    await waitForText(join((driver as QemuDriver).root, ref, 'console.log'), 'hangar-test-guest: up', { count });
  },
  boot_text: 'hangar-test-guest: up',
  screen: true,
  timeout_ms: 60_000,
});
