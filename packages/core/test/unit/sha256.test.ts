import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { sha256Hex } from '../../src/services/sha256.js';

// API keys are stored and looked up by this hash: a change to it would lock every key out.
describe('sha256Hex', () => {
  it('is the SHA-256 of the text, in hex', () => {
    expect(sha256Hex('')).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(sha256Hex('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    // Not ASCII: hashed as UTF-8, as createHash hashes a string.
    for (const text of ['hgr_0123456789abcdefghijklmnopqrstuvwxyzABCDEF', 'ключ-é-🔑', 'a'.repeat(10_000)]) {
      expect(sha256Hex(text)).toBe(createHash('sha256').update(text).digest('hex'));
    }
  });
});
