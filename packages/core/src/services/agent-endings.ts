import type { Outcome } from '../actions/action.js';
import { ACTIONS } from '../actions/registry.js';
import type { ReportedEnding } from '../domain/agent.js';
import { errors } from '../domain/errors.js';
import { type OperationAction, rule } from '../domain/state-machine.js';
import type { OperationRow, VmRow } from '../store/schema.js';
import type { Ending } from '../worker/finish.js';

/**
 * An agent's report of how an operation ended, as the API records it. The agent says what the
 * hypervisor did (the status reached, the domain's handle, its console port and MAC); what the
 * VM is to become otherwise comes from the operation the API queued (the hardware asked for, the
 * ISO, deletion), never from the agent: a host cannot grant its VMs more than was asked.
 */
export function acceptEnding(op: OperationRow, vm: VmRow, report: ReportedEnding): Ending {
  const action = op.action as OperationAction;
  const r = rule(action);
  const status = report.outcome.status;
  if (report.result === 'succeeded') {
    const expected = action === 'create' ? ['stopped', 'running'] : [r.onSuccess];
    if (!expected.includes(status)) {
      throw errors.validation(`A succeeded ${action} leaves the VM ${expected.join(' or ')}, not ${status}`, [
        { path: 'outcome.status', message: `expected ${expected.join(' or ')}` },
      ]);
    }
  } else if (status === 'deleted') {
    throw errors.validation('A failed operation cannot leave the VM deleted', [{ path: 'outcome.status', message: 'not deleted' }]);
  }
  const reported = report.outcome.vm ?? {};
  const mac = reported.network?.mac_address;
  // What was asked (hardware, ISO, deletion) comes from the operation, as the action defines it.
  const patch: NonNullable<Outcome['vm']> = report.result === 'succeeded' ? { ...ACTIONS[action].asked?.(op) } : {};
  // What the hypervisor did: the domain a create defined, its console port and MAC.
  if (action === 'create' && reported.domain_ref) patch.domain_ref = reported.domain_ref;
  if ((action === 'create' || action === 'update_hardware') && reported.vnc_port !== undefined) patch.vnc_port = reported.vnc_port;
  if (mac && action === 'create') patch.network = { ...vm.network, mac_address: mac };
  if (mac && patch.network) patch.network = { ...patch.network, mac_address: mac };
  return {
    result: report.result,
    error: report.result === 'failed' ? (report.error ?? 'the agent did not say why') : undefined,
    outcome: { status, vm: patch, data: report.outcome.data as Record<string, unknown> | undefined, message: report.outcome.message },
  };
}
