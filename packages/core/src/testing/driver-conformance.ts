import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { can, type DomainSpec, DriverError, type HypervisorDriver } from '../drivers/driver.js';
import { readRfbBanner } from './rfb-banner.js';

/** A driver under the conformance suite. */
export interface ConformanceSubject {
  name: string;
  /** Why it cannot run here (no QEMU, say), or null. */
  skip: string | null;
  /** A driver over `root`; called again on the same root, it is the driver after a restart of the control plane. */
  make(root: string): HypervisorDriver | Promise<HypervisorDriver>;
  /** Resolves once the guest of a started domain is up (a power button is only heard by a booted guest). */
  booted?(driver: HypervisorDriver, ref: string): Promise<void>;
  /** After the suite, per domain it defined: what the driver needs beyond a kill (libvirt's domains stay defined until undefined). */
  cleanup?(driver: HypervisorDriver, ref: string): Promise<void>;
  /**
   * What the guest writes to its serial console at each boot, which the driver's console log
   * must then hold; omitted for a driver that keeps no console log (a remote libvirt host's).
   */
  boot_text?: string;
  /** The driver shows running domains' screens (VNC); false for one that cannot reach them (a remote libvirt host's). */
  screen: boolean;
  /** How long a call that boots or stops a guest may take. */
  timeout_ms?: number;
}

const spec = (name: string): DomainSpec => ({
  vm_id: randomUUID(),
  name,
  cpu_cores: 1,
  memory_mb: 256,
  disk_gb: 1,
  os_type: 'linux',
  network: { type: 'nat', bridge_name: null, mac_address: null, ip_address: null },
  vnc_enabled: false,
});

/**
 * What every hypervisor driver must do, as the worker relies on it: the lifecycle, idempotent
 * calls (a retried operation repeats them), domains that outlive the driver, and errors by kind.
 * Each driver's test file calls this once with its subject.
 */
export function describeDriverConformance(subject: ConformanceSubject): void {
  const timeout = subject.timeout_ms ?? 30_000;
  describe.skipIf(subject.skip !== null)(`${subject.name} driver conformance`, () => {
    let root: string;
    let driver: HypervisorDriver;
    const drivers: HypervisorDriver[] = [];
    const refs: string[] = [];
    const make = async () => {
      const d = await subject.make(root);
      drivers.push(d);
      return d;
    };
    const booted = (ref: string) => subject.booted?.(driver, ref) ?? Promise.resolve();
    const defined = async (name: string) => {
      const { ref } = await driver.define(spec(name));
      refs.push(ref);
      return ref;
    };

    beforeAll(async () => {
      root = await mkdtemp(join(tmpdir(), 'hcf-'));
      driver = await make();
    });
    afterAll(async () => {
      for (const ref of refs) await driver?.kill(ref).catch(() => {});
      if (subject.cleanup) for (const ref of refs) await subject.cleanup(driver, ref).catch(() => {});
      for (const d of drivers) await d.close?.();
      await rm(root, { recursive: true, force: true });
    }, timeout);

    it('defines a stopped domain that list shows with its VM id', async () => {
      const s = spec('listed');
      const { ref } = await driver.define(s);
      refs.push(ref);
      expect(await driver.state(ref)).toBe('stopped');
      expect(await driver.list()).toContainEqual({ ref, vm_id: s.vm_id, state: 'stopped' });
    });

    it(
      'starts, pauses, resumes and resets; repeating a call is harmless',
      async () => {
        const ref = await defined('lifecycle');
        await driver.start(ref);
        await driver.start(ref);
        expect(await driver.state(ref)).toBe('running');
        await driver.pause(ref);
        await driver.pause(ref);
        expect(await driver.state(ref)).toBe('paused');
        await driver.resume(ref);
        await driver.resume(ref);
        expect(await driver.state(ref)).toBe('running');
        await driver.reset(ref);
        expect(await driver.state(ref)).toBe('running');
        await driver.kill(ref);
        await driver.kill(ref);
        expect(await driver.state(ref)).toBe('stopped');
      },
      timeout,
    );

    it(
      'shuts a booted guest down gracefully, and reboots one',
      async () => {
        const ref = await defined('graceful');
        await driver.start(ref);
        await booted(ref);
        expect(await driver.reboot(ref, { timeout_ms: timeout / 2 })).toEqual({ forced: false });
        expect(await driver.state(ref)).toBe('running');
        await booted(ref);
        expect(await driver.shutdown(ref, { timeout_ms: timeout / 2 })).toEqual({ forced: false });
        expect(await driver.state(ref)).toBe('stopped');
        // Already off: nothing to force.
        expect(await driver.shutdown(ref, { timeout_ms: 1_000 })).toEqual({ forced: false });
      },
      timeout * 2,
    );

    it(
      'reconfigures a stopped domain, and it starts with the change',
      async () => {
        const ref = await defined('resized');
        await driver.reconfigure(ref, { memory_mb: 384, cpu_cores: 2, disk_gb: 2 });
        expect(await driver.state(ref)).toBe('stopped');
        await driver.start(ref);
        expect(await driver.state(ref)).toBe('running');
        await driver.kill(ref);
      },
      timeout,
    );

    it(
      'takes an empty GPU list as no GPUs: defined, reconfigured and started as without',
      async () => {
        const s: DomainSpec = { ...spec('no-gpus'), gpus: [] };
        const { ref } = await driver.define(s);
        refs.push(ref);
        expect(await driver.list()).toContainEqual({ ref, vm_id: s.vm_id, state: 'stopped' });
        await driver.start(ref);
        expect(await driver.state(ref)).toBe('running');
        await driver.kill(ref);
        await driver.reconfigure(ref, { gpus: [] });
        await driver.reconfigure(ref, { memory_mb: 384 });
        await driver.start(ref);
        expect(await driver.state(ref)).toBe('running');
        await driver.kill(ref);
      },
      timeout,
    );

    it(
      'keeps domains across a restart of the driver: the new one lists and drives them',
      async () => {
        const ref = await defined('outlives');
        await driver.start(ref);
        await driver.close?.();
        driver = await make();
        expect((await driver.list()).find((d) => d.ref === ref)?.state).toBe('running');
        await driver.kill(ref);
        expect(await driver.state(ref)).toBe('stopped');
      },
      timeout,
    );

    it(
      "keeps the guest's console log, whose end it reads",
      async () => {
        if (!subject.boot_text) {
          expect(can.console(driver)).toBe(false);
          return;
        }
        expect(can.console(driver)).toBe(true);
        if (!can.console(driver)) return;
        // Narrowed once: `driver` itself is reassigned between tests, so its narrowing does not last.
        const d = driver;
        const ref = await defined('console');
        expect(await d.consoleLog(ref, { max_bytes: 1024 })).toMatchObject({ truncated: false });
        await d.start(ref);
        await booted(ref);
        const text = subject.boot_text;
        await expect.poll(async () => (await d.consoleLog(ref, { max_bytes: 65_536 })).text, { timeout }).toContain(text);
        // Stopped, so the log holds still while its whole and its end are compared (a guest still
        // running goes on writing between the two reads).
        await d.kill(ref);
        const whole = await d.consoleLog(ref, { max_bytes: 65_536 });
        const end = await d.consoleLog(ref, { max_bytes: 8 });
        expect(end.truncated).toBe(true);
        expect(Buffer.byteLength(end.text)).toBeLessThanOrEqual(8);
        expect(whole.text.endsWith(end.text)).toBe(true);
        expect(end.size_bytes).toBeGreaterThanOrEqual(whole.size_bytes);
        const ghost = await d.consoleLog(randomUUID(), { max_bytes: 8 }).then(
          () => null,
          (e: unknown) => e,
        );
        expect((ghost as DriverError).kind).toBe('not_found');
      },
      timeout * 2,
    );

    it(
      "shows a running domain's screen: a VNC server at its endpoint, none while stopped or without a display",
      async () => {
        expect(can.screen(driver)).toBe(subject.screen);
        if (!can.screen(driver)) return;
        const { ref } = await driver.define({ ...spec('screen'), vnc_enabled: true });
        refs.push(ref);
        expect(await driver.screenEndpoint(ref)).toBeNull();
        await driver.start(ref);
        const endpoint = await driver.screenEndpoint(ref);
        expect(endpoint).not.toBeNull();
        expect(await readRfbBanner(endpoint!)).toMatch(/^RFB 003\.00\d\n$/);
        await driver.pause(ref);
        expect(await driver.screenEndpoint(ref)).toEqual(endpoint);
        await driver.kill(ref);
        expect(await driver.screenEndpoint(ref)).toBeNull();

        const headless = await defined('headless');
        await driver.start(headless);
        expect(await driver.screenEndpoint(headless)).toBeNull();
        await driver.kill(headless);

        const ghost = await driver.screenEndpoint(randomUUID()).then(
          () => null,
          (e: unknown) => e,
        );
        expect((ghost as DriverError).kind).toBe('not_found');
      },
      timeout * 2,
    );

    it('undefines a domain and its disks; undefining it again is harmless', async () => {
      const ref = await defined('removed');
      await driver.undefine(ref, { delete_disks: true });
      expect(await driver.state(ref)).toBe('missing');
      expect((await driver.list()).some((d) => d.ref === ref)).toBe(false);
      await driver.undefine(ref, { delete_disks: true });
    });

    it('says not_found for a domain it does not have', async () => {
      const ghost = randomUUID();
      expect(await driver.state(ghost)).toBe('missing');
      for (const call of [() => driver.start(ghost), () => driver.pause(ghost), () => driver.reconfigure(ghost, { memory_mb: 512 })]) {
        const err = await call().then(
          () => null,
          (e: unknown) => e,
        );
        expect(err).toBeInstanceOf(DriverError);
        expect((err as DriverError).kind).toBe('not_found');
      }
    });
  });
}
