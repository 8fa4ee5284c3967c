import { describe, expect, it } from 'vitest';
import { fromLifecycle, toState } from '../../src/drivers/libvirt/driver.js';
import { DomainStateCode, LifecycleEvent } from '../../src/drivers/libvirt/rpc/protocol.js';

// What libvirt's states and lifecycle events mean for Hangar.

describe('toState', () => {
  it('maps virDomainState, and a shut-off domain by why it is off', () => {
    expect(toState({ state: DomainStateCode.RUNNING, reason: 1 })).toBe('running');
    expect(toState({ state: DomainStateCode.BLOCKED, reason: 0 })).toBe('running');
    // Going down, not down yet.
    expect(toState({ state: DomainStateCode.SHUTDOWN, reason: 1 })).toBe('running');
    expect(toState({ state: DomainStateCode.PAUSED, reason: 1 })).toBe('paused');
    expect(toState({ state: DomainStateCode.PMSUSPENDED, reason: 0 })).toBe('paused');
    expect(toState({ state: DomainStateCode.CRASHED, reason: 0 })).toBe('crashed');
    expect(toState({ state: DomainStateCode.SHUTOFF, reason: 1 })).toBe('stopped'); // shut down
    expect(toState({ state: DomainStateCode.SHUTOFF, reason: 2 })).toBe('stopped'); // destroyed
    expect(toState({ state: DomainStateCode.SHUTOFF, reason: 3 })).toBe('crashed');
    expect(toState({ state: DomainStateCode.SHUTOFF, reason: 6 })).toBe('crashed'); // failed to start
    expect(toState({ state: DomainStateCode.SHUTOFF, reason: 0 })).toBe('stopped');
  });
});

describe('fromLifecycle', () => {
  const ref = 'r';
  it('tells a guest powering off from a destroy and from a crash', () => {
    expect(fromLifecycle(ref, LifecycleEvent.STOPPED, 0)).toEqual({
      ref,
      state: 'stopped',
      reason: 'the guest powered off',
      event: 'libvirt.stopped.shutdown',
    });
    expect(fromLifecycle(ref, LifecycleEvent.STOPPED, 1)).toMatchObject({ state: 'stopped', reason: expect.stringContaining('destroyed') });
    expect(fromLifecycle(ref, LifecycleEvent.STOPPED, 2)).toMatchObject({ state: 'crashed', event: 'libvirt.stopped.crashed' });
    expect(fromLifecycle(ref, LifecycleEvent.STOPPED, 5)).toMatchObject({ state: 'crashed', event: 'libvirt.stopped.failed' });
    expect(fromLifecycle(ref, LifecycleEvent.STOPPED, 99)).toMatchObject({ state: 'stopped', event: 'libvirt.stopped.unknown' });
    expect(fromLifecycle(ref, LifecycleEvent.CRASHED, 0)).toMatchObject({ state: 'crashed' });
  });

  it('follows starts, pauses, resumes and undefines, and passes over the rest', () => {
    expect(fromLifecycle(ref, LifecycleEvent.STARTED, 0)?.state).toBe('running');
    expect(fromLifecycle(ref, LifecycleEvent.SUSPENDED, 0)?.state).toBe('paused');
    expect(fromLifecycle(ref, LifecycleEvent.RESUMED, 0)?.state).toBe('running');
    expect(fromLifecycle(ref, LifecycleEvent.UNDEFINED, 0)?.state).toBe('missing');
    expect(fromLifecycle(ref, LifecycleEvent.DEFINED, 0)).toBeNull();
    expect(fromLifecycle(ref, LifecycleEvent.SHUTDOWN, 0)).toBeNull();
  });
});
