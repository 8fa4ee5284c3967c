import { describe, expect, it } from 'vitest';
import { protoKeyPath } from '../../src/domain/proto-key.js';

describe('protoKeyPath', () => {
  it('finds a __proto__ key at any depth, in objects and arrays, as parsed JSON has it', () => {
    expect(protoKeyPath(JSON.parse('{"__proto__":1}'))).toBe('__proto__');
    expect(protoKeyPath(JSON.parse('{"labels":{"a":"b","__proto__":{"x":1}}}'))).toBe('labels.__proto__');
    expect(protoKeyPath(JSON.parse('{"disks":[{"name":"a"},{"meta":{"__proto__":null}}]}'))).toBe('disks.1.meta.__proto__');
  });

  it('passes everything else, including the word as a value or inside a longer key', () => {
    for (const ok of [null, 1, 'x', [], {}, { labels: { proto: '__proto__', __proto__x: 'y' } }, [[{ a: [1, { b: 2 }] }]]]) {
      expect(protoKeyPath(ok)).toBeNull();
    }
  });

  it('walks a deep input without overflowing the stack', () => {
    let deep: unknown = JSON.parse('{"__proto__":1}');
    for (let i = 0; i < 100_000; i++) deep = i % 2 ? { a: deep } : [deep];
    expect(protoKeyPath(deep)).toMatch(/^a\.0\.(a\.0\.)*__proto__$/);
  });
});
