import { describe, expect, it } from 'vitest';
import { Labels, MacAddress } from '../../src/domain/fields.js';
import { looksLikeIso } from '../../src/domain/image.js';
import { ListVmsQuery, parseLabelSelector } from '../../src/domain/list.js';
import { normalizeNetwork } from '../../src/domain/vm.js';

// Field schemas in isolation: what each accepts, refuses and turns into.
describe('label selectors', () => {
  it('reads key=value and a bare key', () => {
    expect(parseLabelSelector('env=prod')).toEqual({ key: 'env', value: 'prod' });
    expect(parseLabelSelector('env=')).toEqual({ key: 'env', value: '' });
    expect(parseLabelSelector('env')).toEqual({ key: 'env', value: undefined });
    // The first `=` splits: a value may hold more.
    expect(parseLabelSelector('a=b=c')).toEqual({ key: 'a', value: 'b=c' });
  });
  it('refuses a bad key or value', () => {
    expect(parseLabelSelector('=prod')).toBeNull();
    expect(parseLabelSelector('')).toBeNull();
    expect(parseLabelSelector('bad key=x')).toBeNull();
    expect(parseLabelSelector('env=a\u0001b')).toBeNull();
    expect(parseLabelSelector(`env=${'v'.repeat(256)}`)).toBeNull();
  });
  it('takes one value or many in list queries', () => {
    expect(ListVmsQuery.parse({ label: 'env=prod', status: 'running' })).toMatchObject({ label: ['env=prod'], status: ['running'] });
    expect(ListVmsQuery.parse({ label: ['a', 'b=c'] })).toMatchObject({ label: ['a', 'b=c'] });
    expect(ListVmsQuery.parse({}).label).toBeUndefined();
    expect(ListVmsQuery.safeParse({ label: 'bad key' }).success).toBe(false);
    expect(ListVmsQuery.safeParse({ label: Array.from({ length: 21 }, (_, i) => `k${i}`) }).success).toBe(false);
  });
});

describe('labels', () => {
  const many = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, 'v']));
  it('holds up to 64', () => {
    expect(Labels.safeParse(many(64)).success).toBe(true);
    expect(Labels.safeParse(many(65)).success).toBe(false);
  });
  it('takes a list of keys as keys with empty values', () => {
    expect(Labels.parse(['a', 'b'])).toEqual({ a: '', b: '' });
  });
});

describe('MAC addresses', () => {
  it('are stored lowercase', () => {
    expect(MacAddress.parse('52:54:00:AB:CD:EF')).toBe('52:54:00:ab:cd:ef');
  });
  it('refuses anything else', () => {
    for (const bad of ['52:54:00:ab:cd', '52-54-00-ab-cd-ef', '52:54:00:ab:cd:eg', ' 52:54:00:ab:cd:ef']) {
      expect(MacAddress.safeParse(bad).success, bad).toBe(false);
    }
  });
});

describe('ISO names', () => {
  it('end in .iso, any case', () => {
    expect(looksLikeIso('debian.iso')).toBe(true);
    expect(looksLikeIso('DEBIAN.ISO')).toBe(true);
    expect(looksLikeIso('debian.iso.qcow2')).toBe(false);
    expect(looksLikeIso('iso')).toBe(false);
  });
});

describe('networks as stored', () => {
  it('keep a bridge name only on bridges, and unknown addresses as null', () => {
    expect(normalizeNetwork({ type: 'bridge', bridge_name: 'br0' })).toEqual({
      type: 'bridge',
      bridge_name: 'br0',
      mac_address: null,
      ip_address: null,
    });
    expect(normalizeNetwork({ type: 'bridge' })).toEqual({ type: 'bridge', bridge_name: null, mac_address: null, ip_address: null });
    expect(normalizeNetwork({ type: 'nat', bridge_name: 'br0', mac_address: '52:54:00:00:00:01', ip_address: '10.0.0.5' })).toEqual({
      type: 'nat',
      bridge_name: null,
      mac_address: '52:54:00:00:00:01',
      ip_address: '10.0.0.5',
    });
  });
});
