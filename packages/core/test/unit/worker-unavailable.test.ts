import { describe, expect, it } from 'vitest';
import { errors } from '../../src/domain/errors.js';
import { unavailable } from '../../src/worker/unavailable.js';

// What makes a worker give an operation back instead of failing it: the database (or, for an
// agent, the API in front of it) out of reach, in each form that reaches the worker.

describe('a step that met an outage', () => {
  it('is told apart from a failure of the step', () => {
    // Local workers: postgres.js's connection errors, and PostgreSQL shutting down.
    expect(unavailable(Object.assign(new Error('write CONNECTION_CLOSED'), { code: 'CONNECTION_CLOSED' }))).toBe(true);
    expect(
      unavailable(Object.assign(new Error('Failed query'), { cause: Object.assign(new Error('terminating'), { code: '57P01' }) })),
    ).toBe(true);
    // Agents: the API's 503, as the tRPC client gives it.
    expect(
      unavailable(Object.assign(new Error('The database is unavailable'), { data: { code: 'DATABASE_UNAVAILABLE', httpStatus: 503 } })),
    ).toBe(true);
    expect(unavailable(errors.databaseUnavailable())).toBe(true);
    // The embedded PostgreSQL's unix socket: gone (stopped), or its listen queue full (starting up, many connecting).
    for (const code of ['ENOENT', 'EAGAIN']) {
      expect(unavailable(Object.assign(new Error(`connect ${code} /tmp/x/.s.PGSQL.5432`), { code, syscall: 'connect' }))).toBe(true);
    }
    // A write to PostgreSQL's socket after it went away, as postgres.js fails the query with it:
    // the socket's error, given the query's text and parameters (not enumerable).
    const broken = Object.assign(new Error('write EPIPE'), { code: 'EPIPE', syscall: 'write' });
    Object.defineProperties(broken, { query: { value: 'insert into "vms" …' }, parameters: { value: [] } });
    expect(unavailable(broken)).toBe(true);
    expect(unavailable(Object.assign(new Error('Failed query'), { cause: broken }))).toBe(true);
  });

  it('is not confused with a failure', () => {
    expect(unavailable(new Error('qemu-img: disk full'))).toBe(false);
    expect(unavailable(Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }))).toBe(false);
    expect(unavailable(Object.assign(new Error('Bad request'), { data: { code: 'VALIDATION', httpStatus: 400 } }))).toBe(false);
    expect(unavailable(errors.hostUnavailable('no host'))).toBe(false);
  });
});
