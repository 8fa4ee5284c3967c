import { describe, expect, it } from 'vitest';
import { DomainsInHand } from '../../src/worker/domains-in-hand.js';

// The worker's record of the domains its operations are acting on (the reconciler and the agent
// leave those domains' changes to the operations): one holder per domain.

const HOST_A = '6f1c2a4e-0000-4000-8000-00000000000a';
const HOST_B = '6f1c2a4e-0000-4000-8000-00000000000b';

describe('DomainsInHand', () => {
  it('holds a domain of a host until released, and a release twice is one', () => {
    const inHand = new DomainsInHand();
    const release = inHand.hold(HOST_A, 'dom-1');
    expect(inHand.has(HOST_A, 'dom-1')).toBe(true);
    expect(inHand.has(HOST_B, 'dom-1')).toBe(false);
    expect(inHand.has(HOST_A, 'dom-2')).toBe(false);
    release();
    expect(inHand.has(HOST_A, 'dom-1')).toBe(false);
    const again = inHand.hold(HOST_A, 'dom-1');
    release();
    expect(inHand.has(HOST_A, 'dom-1')).toBe(true);
    again();
    expect(inHand.size).toBe(0);
  });

  it('gives a domain to the operation claimed last: the one it superseded no longer holds it', () => {
    const inHand = new DomainsInHand();
    // A start whose call has yet to return, then the force-stop that cancelled it.
    const start = inHand.hold(HOST_A, 'dom-1');
    const forceStop = inHand.hold(HOST_A, 'dom-1');
    start();
    expect(inHand.has(HOST_A, 'dom-1')).toBe(true);
    const start2 = inHand.hold(HOST_A, 'dom-2');
    const forceStop2 = inHand.hold(HOST_A, 'dom-2');
    // The force-stop is done while the start's call still hangs: the domain's changes are the reconciler's again.
    forceStop2();
    expect(inHand.has(HOST_A, 'dom-2')).toBe(false);
    start2();
    forceStop();
    expect(inHand.size).toBe(0);
  });

  it('keeps hosts apart, whatever their ids and references hold', () => {
    const inHand = new DomainsInHand();
    const release = inHand.hold(HOST_A, `x\u0000${HOST_B}`);
    expect(inHand.has(HOST_A, `x\u0000${HOST_B}`)).toBe(true);
    expect(inHand.has(`${HOST_A}\u0000x`, HOST_B)).toBe(false);
    const other = inHand.hold(HOST_B, `x\u0000${HOST_B}`);
    release();
    expect(inHand.has(HOST_B, `x\u0000${HOST_B}`)).toBe(true);
    expect(inHand.size).toBe(1);
    other();
    expect(inHand.size).toBe(0);
  });
});
