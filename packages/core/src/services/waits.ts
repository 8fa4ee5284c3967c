import { z } from 'zod';
import type { Image } from '../domain/image.js';
import { isFinished, type Operation } from '../domain/operation.js';
import type { Scope } from '../domain/project.js';
import { VmStatus } from '../domain/status.js';
import type { Vm } from '../domain/vm.js';
import type { ChangeNotice } from '../store/notifier.js';
import type { ServiceDeps } from './context.js';
import { getImage } from './images.js';
import { getOperation, getOperationWithVm } from './operations.js';
import { parse, parseId } from './validate.js';
import { getVm } from './vm-queries.js';

export const WaitOptions = z.strictObject({
  /** How long to wait; the caller decides, up to a day. */
  timeout_ms: z.int().min(0).max(86_400_000).default(60_000),
});
export type WaitOptions = z.input<typeof WaitOptions> & { signal?: AbortSignal };

/** A re-check now and then: a safety net only, as the Notifier re-announces after reconnecting. */
const FALLBACK_POLL_MS = 15_000;

/**
 * Re-reads with `check` each time `id` changes (LISTEN/NOTIFY) in a way that `mayEnd` says could
 * end the wait, until it reports done, the timeout passes or the signal aborts. Returns the last
 * value read. `mayEnd` saves a read per change that cannot (a VM passing through a status not
 * waited for): every change announces itself, so the one that ends the wait is read when it comes.
 */
async function waitUntil<T>(
  deps: ServiceDeps,
  id: string,
  check: () => Promise<{ value: T; done: boolean }>,
  timeoutMs: number,
  signal?: AbortSignal,
  mayEnd: (notice: ChangeNotice) => boolean = () => true,
): Promise<{ value: T; timed_out: boolean }> {
  if (!deps.notifier) throw new Error('waiting needs a Notifier in the service dependencies');
  let wake: () => void = () => {};
  let changed = false;
  const unsubscribe = deps.notifier.subscribe(id, (notice) => {
    if (!mayEnd(notice)) return;
    changed = true;
    wake();
  });
  const deadline = Date.now() + timeoutMs;
  try {
    for (;;) {
      changed = false;
      const r = await check();
      if (r.done) return { value: r.value, timed_out: false };
      const left = deadline - Date.now();
      if (left <= 0 || signal?.aborted) return { value: r.value, timed_out: true };
      if (changed) continue;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, Math.min(left, FALLBACK_POLL_MS));
        function done() {
          clearTimeout(timer);
          signal?.removeEventListener('abort', done);
          wake = () => {};
          resolve();
        }
        wake = done;
        signal?.addEventListener('abort', done, { once: true });
      });
    }
  } finally {
    unsubscribe();
  }
}

/** A change that leaves the operation open (its queueing) ends no wait for it. */
const operationMayEnd = (opId: string) => (n: ChangeNotice) => !(n.operation_id === opId && n.operation_open);

/** Reads the operation with `read` (its status given by `operation`) until it has finished, or at the timeout. */
async function untilFinished<T>(
  deps: ServiceDeps,
  scope: Scope,
  id: string,
  opts: WaitOptions,
  read: (db: ServiceDeps['db'], scope: Scope, opId: string) => Promise<T>,
  operation: (value: T) => Operation,
): Promise<{ value: T; timed_out: boolean }> {
  const opId = parseId(id, 'operation id');
  const { timeout_ms } = parse(WaitOptions, { timeout_ms: opts.timeout_ms }, 'wait options');
  return waitUntil(
    deps,
    opId,
    async () => {
      const value = await read(deps.db, scope, opId);
      return { value, done: isFinished(operation(value).status) };
    },
    timeout_ms,
    opts.signal,
    operationMayEnd(opId),
  );
}

/** Resolves once the operation has finished (succeeded, failed or cancelled), or at the timeout. */
export async function waitForOperation(
  deps: ServiceDeps,
  scope: Scope,
  id: string,
  opts: WaitOptions = {},
): Promise<{ operation: Operation; timed_out: boolean }> {
  const r = await untilFinished(deps, scope, id, opts, getOperation, (op) => op);
  return { operation: r.value, timed_out: r.timed_out };
}

/**
 * `waitForOperation`, answered with the operation's VM too, both read in the statement that
 * sees it finished (or the one at the timeout): what `wait: true` answers with. Read apart, the
 * VM was one more statement a wait.
 */
export async function waitForOutcome(
  deps: ServiceDeps,
  scope: Scope,
  id: string,
  opts: WaitOptions = {},
): Promise<{ operation: Operation; vm: Vm; timed_out: boolean }> {
  const r = await untilFinished(deps, scope, id, opts, getOperationWithVm, (both) => both.operation);
  return { ...r.value, timed_out: r.timed_out };
}

const TargetStatus = z.union([VmStatus, z.array(VmStatus).min(1)]);
const VM_STATUS_SET: ReadonlySet<string> = new Set(VmStatus.options);

/**
 * Resolves once the VM is in `status` (or one of several), or at the timeout. A deleted VM
 * can reach nothing else, so waiting ends there too: the caller sees `deleted`, not the target.
 */
export async function waitForVm(
  deps: ServiceDeps,
  scope: Scope,
  id: string,
  status: VmStatus | VmStatus[],
  opts: WaitOptions = {},
): Promise<{ vm: Vm; timed_out: boolean }> {
  const vmId = parseId(id, 'vm id');
  const targets = [parse(TargetStatus, status, 'status')].flat();
  const { timeout_ms } = parse(WaitOptions, { timeout_ms: opts.timeout_ms }, 'wait options');
  const r = await waitUntil(
    deps,
    vmId,
    async () => {
      const vm = await getVm(deps.db, scope, vmId);
      return { value: vm, done: targets.includes(vm.status) || vm.status === 'deleted' };
    },
    timeout_ms,
    opts.signal,
    // A change of this VM to a status not waited for ends no wait; anything else is read
    // (a resync after a reconnect, a notice of another kind).
    (n) => n.vm_id !== vmId || !VM_STATUS_SET.has(n.status) || targets.includes(n.status as VmStatus) || n.status === 'deleted',
  );
  return { vm: r.value, timed_out: r.timed_out };
}

/** Resolves once the image is `ready` or in `error` (its download failed), or at the timeout. */
export async function waitForImage(
  deps: ServiceDeps,
  scope: Scope,
  id: string,
  opts: WaitOptions = {},
): Promise<{ image: Image; timed_out: boolean }> {
  const imageId = parseId(id, 'image id');
  const { timeout_ms } = parse(WaitOptions, { timeout_ms: opts.timeout_ms }, 'wait options');
  const r = await waitUntil(
    deps,
    imageId,
    async () => {
      const image = await getImage(deps.db, scope, imageId);
      return { value: image, done: image.status === 'ready' || image.status === 'error' };
    },
    timeout_ms,
    opts.signal,
  );
  return { image: r.value, timed_out: r.timed_out };
}
