import { describe, expect, it } from 'vitest';
import { ERROR_HTTP_STATUS, errors, HangarError, isHangarError } from '../src/domain/errors.js';

// Clients branch on code, HTTP status and `retryable`, and people read the message: each
// factory's whole answer is pinned here.
describe('errors', () => {
  const id = '6c7e3b27-7159-4e0a-9e30-3d44284574cd';
  const cases: [HangarError, { code: string; status: number; message: string; details: object }][] = [
    [errors.vmNotFound(id), { code: 'VM_NOT_FOUND', status: 404, message: `VM with ID ${id} not found`, details: {} }],
    [errors.operationNotFound(id), { code: 'OPERATION_NOT_FOUND', status: 404, message: `Operation with ID ${id} not found`, details: {} }],
    [errors.notFound('Image', id), { code: 'NOT_FOUND', status: 404, message: `Image with ID ${id} not found`, details: {} }],
    [
      errors.nameTaken('web-1'),
      { code: 'NAME_TAKEN', status: 409, message: "A VM named 'web-1' already exists in this project", details: { retryable: false } },
    ],
    [
      errors.versionConflict(3, 5),
      {
        code: 'VERSION_CONFLICT',
        status: 409,
        message: 'VM is at version 5, not the expected 3',
        details: { expected_version: 3, version: 5, retryable: false },
      },
    ],
    [
      errors.idempotencyMismatch('k1'),
      {
        code: 'IDEMPOTENCY_MISMATCH',
        status: 422,
        message: "Idempotency key 'k1' was already used with a different request",
        details: { retryable: false },
      },
    ],
    [
      errors.hostUnavailable('host-1 is down'),
      { code: 'HOST_UNAVAILABLE', status: 503, message: 'host-1 is down', details: { retryable: true } },
    ],
    [
      errors.validation('bad name', [{ path: 'name', message: 'too long' }]),
      { code: 'VALIDATION', status: 400, message: 'bad name', details: { fields: [{ path: 'name', message: 'too long' }] } },
    ],
    [errors.validation('bad'), { code: 'VALIDATION', status: 400, message: 'bad', details: { fields: [] } }],
  ];

  for (const [err, want] of cases) {
    it(`${want.code}: ${want.message}`, () => {
      expect(isHangarError(err)).toBe(true);
      expect(err).toBeInstanceOf(Error);
      expect(err.name).toBe('HangarError');
      expect({ code: err.code, status: err.httpStatus, message: err.message, details: err.details }).toEqual(want);
      expect(err.toJSON()).toEqual({ code: want.code, message: want.message, ...want.details });
    });
  }

  it('maps every code to a 4xx or 5xx, and only server faults to 5xx', () => {
    const fives = Object.entries(ERROR_HTTP_STATUS)
      .filter(([, s]) => s >= 500)
      .map(([c]) => c)
      .sort();
    expect(fives).toEqual(['DATABASE_UNAVAILABLE', 'HOST_UNAVAILABLE', 'INSUFFICIENT_CAPACITY', 'INTERNAL']);
    for (const s of Object.values(ERROR_HTTP_STATUS)) expect(s >= 400 && s < 600).toBe(true);
  });

  it('tells its own errors from others', () => {
    expect(isHangarError(new Error('x'))).toBe(false);
    expect(isHangarError({ code: 'VM_NOT_FOUND', message: 'x' })).toBe(false);
    expect(new HangarError('INTERNAL', 'x').details).toEqual({});
  });
});
