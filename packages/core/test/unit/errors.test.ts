import { describe, expect, it } from 'vitest';
import { errors, HangarError, isHangarError } from '../../src/domain/errors.js';

// Clients branch on code and `retryable`, and people read the message: each
// factory's whole answer is pinned here.
describe('errors', () => {
  const id = '6c7e3b27-7159-4e0a-9e30-3d44284574cd';
  // Made inside each test (not while collecting them), so coverage ties each factory to its test.
  const cases: [() => HangarError, { code: string; message: string; details: object }][] = [
    [() => errors.vmNotFound(id), { code: 'VM_NOT_FOUND', message: `VM with ID ${id} not found`, details: {} }],
    [() => errors.operationNotFound(id), { code: 'OPERATION_NOT_FOUND', message: `Operation with ID ${id} not found`, details: {} }],
    [() => errors.notFound('Image', id), { code: 'NOT_FOUND', message: `Image with ID ${id} not found`, details: {} }],
    [
      () => errors.nameTaken('web-1'),
      { code: 'NAME_TAKEN', message: "A VM named 'web-1' already exists in this project", details: { retryable: false } },
    ],
    [
      () => errors.versionConflict(3, 5),
      {
        code: 'VERSION_CONFLICT',
        message: 'VM is at version 5, not the expected 3',
        details: { expected_version: 3, version: 5, retryable: false },
      },
    ],
    [
      () => errors.idempotencyMismatch('k1'),
      {
        code: 'IDEMPOTENCY_MISMATCH',
        message: "Idempotency key 'k1' was already used with a different request",
        details: { retryable: false },
      },
    ],
    [() => errors.hostUnavailable('host-1 is down'), { code: 'HOST_UNAVAILABLE', message: 'host-1 is down', details: { retryable: true } }],
    [
      () => errors.validation('bad name', [{ path: 'name', message: 'too long' }]),
      { code: 'VALIDATION', message: 'bad name', details: { fields: [{ path: 'name', message: 'too long' }] } },
    ],
    [() => errors.validation('bad'), { code: 'VALIDATION', message: 'bad', details: { fields: [] } }],
  ];

  for (const [make, want] of cases) {
    it(`${want.code}: ${want.message}`, () => {
      const err = make();
      expect(isHangarError(err)).toBe(true);
      expect(err).toBeInstanceOf(Error);
      expect(err.name).toBe('HangarError');
      expect({ code: err.code, message: err.message, details: err.details }).toEqual(want);
      expect(err.toJSON()).toEqual({ code: want.code, message: want.message, ...want.details });
    });
  }

  it('formats a schema refusal once: every field, the first five in the message', () => {
    const issues = Array.from({ length: 7 }, (_, i) => ({ path: ['vm', `f${i}`], message: `bad ${i}` }));
    const err = errors.fromZod({ issues: [{ path: [], message: 'not an object' }, ...issues] }, 'VM');
    expect(err.code).toBe('VALIDATION');
    expect(err.message).toBe('Invalid VM: (root): not an object; vm.f0: bad 0; vm.f1: bad 1; vm.f2: bad 2; vm.f3: bad 3');
    expect(err.details.fields).toHaveLength(8);
    expect(err.details.fields![1]).toEqual({ path: 'vm.f0', message: 'bad 0' });
  });

  it('says retryable where a retry can help, and formats the rest of the factories', () => {
    expect(errors.hostUnavailable('down').details).toEqual({ retryable: true });
    expect(errors.unsupported('Exporting VMs', 'qemu')).toMatchObject({
      code: 'UNSUPPORTED',
      message: 'Exporting VMs is not supported by the qemu driver of this host',
      details: { retryable: false },
    });
    expect(errors.rateLimited('slow down', 3).details).toEqual({ retry_after_s: 3, retryable: true });
    expect(errors.rateLimited('slow down').details).toEqual({ retryable: true });
    expect(errors.insufficientCapacity('full').details).toEqual({ retryable: true });
    expect(errors.insufficientCapacity('full', { retryable: false }).details).toEqual({ retryable: false });
    expect(errors.databaseUnavailable()).toMatchObject({ code: 'DATABASE_UNAVAILABLE', details: { retryable: true } });
    expect(errors.internal()).toMatchObject({ code: 'INTERNAL', message: 'Internal server error' });
    expect(errors.duplicate('taken')).toMatchObject({ code: 'NAME_TAKEN', details: { retryable: false } });
    expect(errors.fromZod({ issues: [{ path: ['a'], message: 'bad' }] }).message).toBe('Invalid input: a: bad');
  });

  it('tells its own errors from others', () => {
    expect(isHangarError(new Error('x'))).toBe(false);
    expect(isHangarError({ code: 'VM_NOT_FOUND', message: 'x' })).toBe(false);
    expect(new HangarError('INTERNAL', 'x').details).toEqual({});
    expect(new HangarError('INTERNAL', 'x').name).toBe('HangarError');
  });
});
