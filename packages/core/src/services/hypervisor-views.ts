import { ConsoleLogRequest, type VmConsoleLog } from '../domain/console-log.js';
import { errors, HangarError } from '../domain/errors.js';
import type { UnmanagedDomain } from '../domain/host.js';
import type { Scope } from '../domain/project.js';
import type { VmStatus } from '../domain/status.js';
import { can, DriverError, type ScreenEndpoint } from '../drivers/driver.js';
import { vmPlacement } from '../store/vm-rows.js';
import type { ServiceDeps } from './context.js';
import { getHost } from './hosts.js';
import { parse, parseId } from './validate.js';

/** A driver call made to show something: a host that cannot answer is a 503 with the reason. */
async function asked<T>(what: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    // Unreachable, or too slow to answer in time: either way the host, not the request.
    if (err instanceof DriverError && (err.kind === 'unavailable' || err.kind === 'aborted')) {
      throw errors.hostUnavailable(`${what}: ${err.message}`);
    }
    if (err instanceof HangarError) throw err;
    throw errors.internal(`${what}: ${(err as Error).message}`);
  }
}

/**
 * The configuration document the VM's hypervisor holds for it (libvirt's domain XML), or null
 * where there is none to show: the driver keeps no such document, the VM has no domain yet (or
 * it vanished), or its host is not driven by this process.
 */
export async function vmConfigXml(deps: ServiceDeps, scope: Scope, id: string): Promise<string | null> {
  const vmId = parseId(id, 'vm id');
  const placed = await vmPlacement(deps.db, vmId, scope.project_id);
  if (!placed) throw errors.vmNotFound(vmId);
  const driver = placed.host_id ? deps.drivers?.get(placed.host_id) : undefined;
  // A deleted VM has no domain any more: there is nothing to show.
  if (!driver || !can.inspect(driver) || !placed.domain_ref || placed.deleted_at) return null;
  const ref = placed.domain_ref;
  return asked("Reading the VM's domain configuration", () =>
    driver.configXml(ref, { signal: AbortSignal.timeout(10_000) }).catch((err: unknown) => {
      if (err instanceof DriverError && err.kind === 'not_found') return null;
      throw err;
    }),
  );
}

/**
 * The end of the VM's serial console log, from its hypervisor: empty where there is none yet
 * (no domain defined, or the guest never ran). Refused (409 UNSUPPORTED) where this process
 * cannot read it: the VM's host is driven by an agent, or its driver keeps no console log.
 */
export async function vmConsoleLog(deps: ServiceDeps, scope: Scope, input: ConsoleLogRequest): Promise<VmConsoleLog> {
  const q = parse(ConsoleLogRequest, input, 'console log request');
  const placed = await vmPlacement(deps.db, q.id, scope.project_id);
  if (!placed) throw errors.vmNotFound(q.id);
  const none: VmConsoleLog = { vm_id: q.id, text: '', size_bytes: 0, truncated: false };
  if (!placed.domain_ref || placed.deleted_at || !placed.host_id) return none;
  const driver = deps.drivers?.get(placed.host_id);
  if (!driver) {
    throw new HangarError('UNSUPPORTED', "The console log of a VM on an agent's host is not served by the API (read it on the host)", {
      retryable: false,
    });
  }
  if (!can.console(driver)) throw errors.unsupported('Reading the console log', driver.kind);
  const ref = placed.domain_ref;
  const log = await asked("Reading the VM's console log", () =>
    driver.consoleLog(ref, { max_bytes: q.tail_bytes }, { signal: AbortSignal.timeout(10_000) }).catch((err: unknown) => {
      if (err instanceof DriverError && err.kind === 'not_found') return null;
      throw err;
    }),
  );
  return log ? { vm_id: q.id, ...log } : none;
}

/**
 * Where this process reaches the VM's screen (its VNC server), for the web console's proxy.
 * Refused: 404 for a VM not in the scope's project; 409 INVALID_STATE unless it is running or
 * paused with a VNC display (and its domain shows one); 409 UNSUPPORTED where this process
 * cannot reach it: the VM's host is driven by an agent, or its driver has no screen to offer
 * (a remote libvirt host's).
 */
export async function vmScreen(deps: ServiceDeps, scope: Scope, id: string): Promise<ScreenEndpoint> {
  const vmId = parseId(id, 'vm id');
  const placed = await vmPlacement(deps.db, vmId, scope.project_id);
  if (!placed) throw errors.vmNotFound(vmId);
  const status = placed.status as VmStatus;
  if (placed.status !== 'running' && placed.status !== 'paused') {
    throw errors.invalidState(`The VM is ${status}: its screen shows only while it is running or paused`, {
      status,
      retryable: false,
    });
  }
  if (!placed.vnc_enabled) {
    throw errors.invalidState('The VM has no display (vnc_enabled is false); enable it while the VM is stopped', {
      status,
      retryable: false,
    });
  }
  const noScreen = () => errors.invalidState("The VM's domain shows no screen now (it is not running on its host)", { status });
  if (!placed.host_id || !placed.domain_ref) throw noScreen();
  const driver = deps.drivers?.get(placed.host_id);
  if (!driver) {
    throw new HangarError('UNSUPPORTED', "The screen of a VM on an agent's host is not served by the API", { retryable: false });
  }
  if (!can.screen(driver)) throw errors.unsupported("Showing the VM's screen", driver.kind);
  const ref = placed.domain_ref;
  const endpoint = await asked("Finding the VM's screen", () =>
    driver.screenEndpoint(ref, { signal: AbortSignal.timeout(10_000) }).catch((err: unknown) => {
      if (err instanceof DriverError && err.kind === 'not_found') return null;
      throw err;
    }),
  );
  if (!endpoint) throw noScreen();
  return endpoint;
}

/**
 * Domains on a host that are not Hangar's, for an admin to see. A driver that keeps no
 * domains but Hangar's (QEMU's directory of VMs, the simulator) has none to show.
 */
export async function unmanagedDomains(deps: ServiceDeps, hostId: string): Promise<UnmanagedDomain[]> {
  const host = await getHost(deps.db, hostId);
  const driver = deps.drivers?.get(host.id);
  if (!driver) throw errors.hostUnavailable(`Host ${host.name} is not driven by this server`);
  if (!can.inspect(driver)) return [];
  const found = await asked(`Listing the domains on host ${host.name}`, () =>
    driver.listUnmanaged({ signal: AbortSignal.timeout(10_000) }),
  );
  return found.map((d) => ({ host_id: host.id, ...d }));
}
