import { describe, expect, it } from 'vitest';
import { tailOf } from '../../src/drivers/console-log.js';

describe('the end of a console log', () => {
  it('is the last bytes, whole characters only: a character cut at the start is dropped', () => {
    const bytes = Buffer.from('boot ok → login: ');
    // 3 bytes of '→' (e2 86 92): a cut inside it starts after it.
    const cut = bytes.indexOf(0x86);
    const end = tailOf(bytes, bytes.length, bytes.length - cut);
    expect(end.text).toBe(' login: ');
    expect(end.truncated).toBe(true);
    expect(tailOf(bytes, bytes.length, 1000)).toEqual({ text: 'boot ok → login: ', size_bytes: bytes.length, truncated: false });
  });

  it('is truncated when more was written than was read', () => {
    expect(tailOf(Buffer.from('abc'), 10, 3)).toEqual({ text: 'abc', size_bytes: 10, truncated: true });
  });
});
