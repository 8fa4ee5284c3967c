import { setTimeout as sleep } from 'node:timers/promises';
import { type Client, type Operation, OperationFailedError, TimeoutError, type VmActionResult } from '@hangar/sdk';
import { Interrupted, interruptible } from '../interrupt.js';
import type { WaitSettings } from '../options.js';
import { startSpinner } from '../progress/spinner.js';

const FINISHED = ['succeeded', 'failed', 'cancelled'];
const seconds = (since: number) => `${((Date.now() - since) / 1000).toFixed(1)}s`;

/**
 * Waits for an operation to finish, by the SDK's long-poll (it wakes when the server sees the
 * end, not on a polling interval). On a terminal a spinner shows its status and the VM's latest
 * event meanwhile. Ctrl-C stops the wait, never the operation: `Interrupted` says how to resume.
 */
export async function followOperation(client: Client, operation: Operation, what: string, settings: WaitSettings): Promise<Operation> {
  if (FINISHED.includes(operation.status)) return operation;
  const started = Date.now();
  const spinner = await startSpinner(`${what}: ${operation.status}`, settings.progress);
  try {
    const done = await interruptible(async (signal) => {
      const phase = settings.progress ? showPhase(client, operation, what, started, spinner.update, signal) : null;
      try {
        return await client.waitForOperation(operation.id, { timeout_ms: settings.timeoutMs, signal });
      } finally {
        phase?.abort();
      }
    });
    const line = `${what}: ${done.status} in ${seconds(started)}${done.error ? ` (${done.error})` : ''}`;
    if (done.status === 'succeeded') spinner.succeed(line);
    else spinner.fail(line);
    return done;
  } catch (err) {
    spinner.stop();
    const resume = `hgr op wait ${operation.id}`;
    if (err instanceof Interrupted) {
      throw new Interrupted(`Stopped waiting; operation ${operation.id} (${operation.action}) goes on.`, resume);
    }
    if (err instanceof TimeoutError) {
      throw new TimeoutError(`${err.message}; it goes on (${resume} waits again)`, { status: null, code: 'TIMEOUT', details: err.details });
    }
    throw err;
  }
}

/**
 * The spinner's text while waiting: the operation's status and what the VM's history last said
 * (`operation.retrying: host unreachable`…). Read on an interval; a failed read only leaves the
 * text as it was, since the long-poll, not this, decides when the wait ends.
 */
function showPhase(
  client: Client,
  operation: Operation,
  what: string,
  started: number,
  update: (text: string) => void,
  outer: AbortSignal,
): AbortController {
  const stop = new AbortController();
  const signal = AbortSignal.any([outer, stop.signal]);
  void (async () => {
    let after: number | undefined;
    let last = '';
    while (!signal.aborted) {
      try {
        const [op, events] = await Promise.all([
          client.getOperation(operation.id, { signal }),
          client.listEvents(operation.vm_id, after === undefined ? { limit: 100 } : { after, limit: 100 }, { signal }),
        ]);
        const mine = events.filter((e) => e.operation_id === operation.id);
        if (events.length) after = events.at(-1)!.id;
        if (mine.length) last = mine.at(-1)!.message;
        update(`${what}: ${op.status}${last ? ` · ${last}` : ''} (${seconds(started)})`);
        await sleep(500, undefined, { signal });
      } catch {
        if (signal.aborted) return;
        await sleep(1000, undefined, { signal }).catch(() => {});
      }
    }
  })();
  return stop;
}

/**
 * What `--wait` does for a VM action: nothing without it (the answer as the server gave it);
 * with it, follows the operation and answers the VM as it ended up. An operation that did not
 * succeed is an OperationFailedError (exit 6), as the SDK's own `wait: true` would throw.
 */
export async function settle(
  client: Client,
  result: VmActionResult,
  what: string,
  wait: boolean | undefined,
  settings: WaitSettings,
): Promise<VmActionResult> {
  if (!wait || !result.operation) return result;
  const operation = await followOperation(client, result.operation, what, settings);
  const vm = await client.getVm(result.vm.id);
  if (operation.status !== 'succeeded') {
    throw new OperationFailedError(
      `${operation.action} of VM ${vm.name} ${operation.status}: ${operation.error ?? 'no reason given'}`,
      operation,
      vm,
    );
  }
  return { vm, operation };
}
