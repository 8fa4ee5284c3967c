import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { LoginLimiter } from '../../src/auth/login-limiter.js';

// The limiter alone, on a fake clock: counts, waits, their doubling and cap, what a success
// forgives, and which records it forgets. (auth.test.ts drives it through the server.)

const waitOf = (fn: () => void): number | null => {
  try {
    fn();
    return null;
  } catch (err) {
    expect(err).toMatchObject({ code: 'RATE_LIMITED' });
    const s = (err as { details: { retry_after_s: number } }).details.retry_after_s;
    expect((err as Error).message).toBe(`Too many failed logins; try again in ${s} s`);
    return s;
  }
};

describe('LoginLimiter', () => {
  beforeEach(() => {
    vi.useFakeTimers();
    vi.setSystemTime(new Date('2026-01-01T00:00:00Z'));
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('lets the free attempts through, then doubles the wait after each failure, up to the cap', () => {
    const l = new LoginLimiter({ freeAttempts: 2, freePerAddress: 1000, baseDelayMs: 1_000, maxDelayMs: 4_000 });
    const attempt = () => waitOf(() => l.begin('Alice', '10.0.0.1'));
    expect(attempt()).toBeNull();
    expect(attempt()).toBeNull(); // the second failure starts the first wait: 1 s
    expect(attempt()).toBe(1);
    vi.advanceTimersByTime(999);
    expect(attempt()).toBe(1);
    vi.advanceTimersByTime(1);
    expect(attempt()).toBeNull(); // third failure: 2 s
    vi.advanceTimersByTime(1_500);
    expect(attempt()).toBe(1); // 0.5 s left, rounded up
    vi.advanceTimersByTime(500);
    expect(attempt()).toBeNull(); // fourth: 4 s
    vi.advanceTimersByTime(3_001);
    expect(attempt()).toBe(1);
    vi.advanceTimersByTime(999);
    expect(attempt()).toBeNull(); // fifth: 8 s, capped at 4 s
    expect(attempt()).toBe(4);
    // The username's case does not make a new record.
    expect(waitOf(() => l.begin('ALICE', '10.0.0.1'))).toBe(4);
  });

  it('does not slow the same username from another address', () => {
    const l = new LoginLimiter({ freeAttempts: 1, baseDelayMs: 60_000 });
    l.begin('alice', '10.0.0.1');
    expect(waitOf(() => l.begin('alice', '10.0.0.1'))).toBe(60);
    expect(waitOf(() => l.begin('alice', '10.0.0.2'))).toBeNull();
  });

  it('slows one address spraying many usernames', () => {
    const l = new LoginLimiter({ freeAttempts: 100, freePerAddress: 3, baseDelayMs: 10_000 });
    for (const u of ['a', 'b']) expect(waitOf(() => l.begin(u, '10.0.0.9'))).toBeNull();
    expect(waitOf(() => l.begin('c', '10.0.0.9'))).toBeNull(); // the third starts the wait
    expect(waitOf(() => l.begin('d', '10.0.0.9'))).toBe(10);
    expect(waitOf(() => l.begin('d', '10.0.0.8'))).toBeNull();
  });

  it('forgives a username its failures on success, and uncounts the attempt for the address', () => {
    const l = new LoginLimiter({ freeAttempts: 2, freePerAddress: 3, baseDelayMs: 10_000 });
    l.begin('alice', '10.0.0.1');
    l.begin('alice', '10.0.0.1');
    expect(waitOf(() => l.begin('alice', '10.0.0.1'))).toBe(10);
    l.succeed('alice', '10.0.0.1');
    // The address had 2 failures, now 1: below its free 3, so no wait for it either.
    expect(waitOf(() => l.begin('alice', '10.0.0.1'))).toBeNull();
    expect(waitOf(() => l.begin('bob', '10.0.0.1'))).toBeNull();
    expect(waitOf(() => l.begin('carol', '10.0.0.1'))).toBe(10);
    l.succeed('carol', '10.0.0.1');
    // 3 - 1 = 2 failures: below free again, the address's wait is lifted.
    expect(waitOf(() => l.begin('dave', '10.0.0.1'))).toBeNull();
    // Success from an address it never saw is nothing to forget.
    expect(() => l.succeed('zed', '10.9.9.9')).not.toThrow();
  });

  it('keeps the address’s wait when a success leaves it past its free attempts', () => {
    const l = new LoginLimiter({ freeAttempts: 100, freePerAddress: 2, baseDelayMs: 10_000 });
    for (const u of ['a', 'b', 'c']) {
      vi.advanceTimersByTime(20_000);
      l.begin(u, '10.0.0.1');
    }
    l.succeed('c', '10.0.0.1'); // 3 failures, now 2: still at the limit
    expect(waitOf(() => l.begin('d', '10.0.0.1'))).toBe(20);
  });

  it('forgets records idle for twice the longest wait, and the oldest beyond its size', () => {
    const l = new LoginLimiter({ freeAttempts: 1, freePerAddress: 1000, baseDelayMs: 1_000, maxDelayMs: 4_000 });
    l.begin('alice', '10.0.0.1'); // a wait of 1 s
    vi.advanceTimersByTime(8_001);
    l.begin('bob', '10.0.0.2'); // prunes alice's record, idle for more than 8 s
    l.begin('alice', '10.0.0.1'); // a first failure again: 1 s, not 2 s
    expect(waitOf(() => l.begin('alice', '10.0.0.1'))).toBe(1);

    const small = new LoginLimiter({ freeAttempts: 1, freePerAddress: 1000, baseDelayMs: 60_000, maxEntries: 4 });
    small.begin('alice', '10.0.0.1'); // two records: alice@.1 and .1
    expect(waitOf(() => small.begin('alice', '10.0.0.1'))).toBe(60);
    small.begin('bob', '10.0.0.2');
    small.begin('carol', '10.0.0.3'); // six records: the oldest two (alice's) go
    expect(waitOf(() => small.begin('alice', '10.0.0.1'))).toBeNull();
    // A recent one stays.
    expect(waitOf(() => small.begin('carol', '10.0.0.3'))).toBe(60);
  });
});
