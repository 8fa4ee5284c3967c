import { describe, expect, it } from 'vitest';
import {
  allowedActions,
  canPerform,
  decide,
  STABLE_STATUSES,
  STATE_MACHINE,
  TRANSITIONAL_STATUSES,
  VM_STATUSES,
  Vm,
  type VmAction,
  type VmStatus,
} from '../../src/domain/index.js';

// The state machine table of docs/architecture.md, transcribed by hand so the data structure is checked against it.
const TABLE = `
action          | from                                                | while        | success | failure
create          | -                                                   | provisioning | stopped | error
start           | stopped                                             | starting     | running | observed
stop            | running paused                                      | stopping     | stopped | observed
force_stop      | running paused starting stopping restarting unknown | stopping     | stopped | error
restart         | running                                             | restarting   | running | observed
reset           | running paused                                      | restarting   | running | observed
pause           | running                                             | pausing      | paused  | observed
resume          | paused                                              | resuming     | running | observed
update_hardware | stopped                                             | updating     | stopped | stopped
export          | stopped                                             | exporting    | stopped | stopped
delete          | stopped running paused error unknown                | deleting     | deleted | error
`;

const rows = TABLE.trim()
  .split('\n')
  .slice(1)
  .map((line) => {
    const [action, from, during, success, failure] = line.split('|').map((c) => c.trim());
    return {
      action: action as VmAction,
      from: (from === '-' ? [] : from!.split(/\s+/)) as VmStatus[],
      during: during!,
      success: success!,
      failure: failure!,
    };
  });

// Every status a VM can have, read from the schema VMs are parsed and answered with, not from a
// count kept by hand: a status added there is checked below without anyone touching this file.
const STATUSES: readonly VmStatus[] = Vm.shape.status.options;
const sorted = (list: Iterable<string>) => [...new Set(list)].sort();

describe('state machine', () => {
  it('covers every status', () => {
    expect(STATUSES.length).toBeGreaterThan(0);
    expect(sorted(VM_STATUSES)).toEqual(sorted(STATUSES));
    // Each status is stable or transitional, and not both.
    expect([...STABLE_STATUSES, ...TRANSITIONAL_STATUSES].sort()).toEqual(sorted(STATUSES));
    // The documented table names every status (as a source, the state an action holds, or an
    // outcome) and no other, so a status it does not describe fails here.
    const named = rows.flatMap((r) => [...r.from, r.during, r.success, r.failure]).filter((s) => s !== 'observed');
    expect(sorted(named)).toEqual(sorted(STATUSES));
    // A VM can only be in a transitional status while some action holds it there.
    for (const s of TRANSITIONAL_STATUSES) {
      expect(
        Object.values(STATE_MACHINE).some((r) => r.during === s),
        `no action runs in ${s}`,
      ).toBe(true);
    }
    expect(sorted(rows.map((r) => r.action))).toEqual(sorted(Object.keys(STATE_MACHINE).filter((a) => a !== 'update_metadata')));
  });

  for (const row of rows) {
    describe(row.action, () => {
      for (const status of STATUSES) {
        const expected = row.from.includes(status);
        it(`${expected ? 'allows' : 'refuses'} ${row.action} from ${status}`, () => {
          expect(canPerform(row.action, status)).toBe(expected);
          expect(allowedActions(status).includes(row.action)).toBe(expected);
        });
      }
      it('holds the documented states', () => {
        const r = STATE_MACHINE[row.action];
        expect(r.during).toBe(row.during);
        expect(r.onSuccess).toBe(row.success);
        expect(r.onFailure).toBe(row.failure);
      });
    });
  }

  it('creates into provisioning, ending stopped or error', () => {
    expect(STATE_MACHINE.create).toMatchObject({ during: 'provisioning', onSuccess: 'stopped', onFailure: 'error' });
    for (const s of STATUSES) expect(allowedActions(s)).not.toContain('create');
  });

  it('changes metadata in every state but deleted, without an operation', () => {
    for (const s of STATUSES) expect(canPerform('update_metadata', s)).toBe(s !== 'deleted');
    expect(STATE_MACHINE.update_metadata.during).toBeNull();
  });

  it('deletes from transitional states only when forced', () => {
    for (const s of TRANSITIONAL_STATUSES) {
      expect(canPerform('delete', s)).toBe(false);
      expect(canPerform('delete', s, true)).toBe(s !== 'deleting');
    }
  });

  it('lets a deleted VM do nothing', () => {
    expect(allowedActions('deleted')).toEqual([]);
  });

  describe('decide', () => {
    it('returns the operation in flight when the same action repeats', () => {
      expect(decide('start', 'starting', 'start')).toEqual({ kind: 'in_flight' });
      expect(decide('stop', 'stopping', 'stop')).toEqual({ kind: 'in_flight' });
      expect(decide('reset', 'restarting', 'reset')).toEqual({ kind: 'in_flight' });
    });
    it("is in flight only while the VM holds that action's status, and only for that action", () => {
      // The operation is still listed but the VM already left `starting` (it is finishing).
      expect(decide('start', 'stopped', 'start')).toEqual({ kind: 'proceed', preempt: false });
      expect(decide('start', 'running', 'start')).toEqual({ kind: 'noop' });
      // Restart and reset share `restarting`: one is not the other's operation.
      expect(decide('reset', 'restarting', 'restart')).toEqual({ kind: 'conflict', retryable: true });
    });
    it('never calls create a no-op (it starts from no status)', () => {
      expect(decide('create', 'stopped', null)).toEqual({ kind: 'conflict', retryable: false });
    });
    it('ignores force for actions without forced sources', () => {
      expect(canPerform('pause', 'starting', true)).toBe(false);
      expect(decide('pause', 'stopped', null, true)).toEqual({ kind: 'conflict', retryable: false });
    });
    it('does nothing when the outcome already holds', () => {
      expect(decide('start', 'running', null)).toEqual({ kind: 'noop' });
      expect(decide('stop', 'stopped', null)).toEqual({ kind: 'noop' });
      expect(decide('pause', 'paused', null)).toEqual({ kind: 'noop' });
      expect(decide('resume', 'running', null)).toEqual({ kind: 'noop' });
      expect(decide('force_stop', 'stopped', null)).toEqual({ kind: 'noop' });
      expect(decide('delete', 'deleted', null)).toEqual({ kind: 'noop' });
    });
    it('refuses a different action while one is in flight, as retryable', () => {
      expect(decide('pause', 'starting', 'start')).toEqual({ kind: 'conflict', retryable: true });
      expect(decide('stop', 'restarting', 'reset')).toEqual({ kind: 'conflict', retryable: true });
      expect(decide('delete', 'starting', 'start')).toEqual({ kind: 'conflict', retryable: true });
    });
    it('refuses an action a stable state does not allow, as final', () => {
      expect(decide('pause', 'stopped', null)).toEqual({ kind: 'conflict', retryable: false });
      expect(decide('start', 'error', null)).toEqual({ kind: 'conflict', retryable: false });
      expect(decide('start', 'deleted', null)).toEqual({ kind: 'conflict', retryable: false });
    });
    it('preempts only with force_stop and forced delete', () => {
      expect(decide('force_stop', 'starting', 'start')).toEqual({ kind: 'proceed', preempt: true });
      expect(decide('delete', 'restarting', 'restart', true)).toEqual({ kind: 'proceed', preempt: true });
      expect(decide('force_stop', 'running', null)).toEqual({ kind: 'proceed', preempt: false });
      expect(decide('update_metadata', 'starting', 'start')).toEqual({ kind: 'proceed', preempt: false });
    });
  });
});
