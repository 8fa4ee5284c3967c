import type { Principal, Services } from '@hangar/core';
import { SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { Authenticator } from '../../src/auth/authenticator.js';

// The Authorization header and access tokens, with the services behind them faked: which
// headers are read as which credential, and what each refusal says.

const USER = '6c7e3b27-7159-4e0a-9e30-3d44284574cd';
const principal = { user_id: USER, project_id: USER, role: 'admin', global_admin: false, via: 'api_key' } as unknown as Principal;
const seen: string[] = [];
const services = {
  auth: {
    apiKey: async (key: string) => {
      seen.push(`key:${key}`);
      return principal;
    },
    user: async (id: string) => {
      seen.push(`user:${id}`);
      return principal;
    },
    password: async () => principal,
  },
} as unknown as Services;
const secret = 'a-secret-of-at-least-thirty-two-characters';
const auth = new Authenticator({ services, secret, ttlSeconds: 60 });

describe('Authenticator', () => {
  it('reads "Bearer <token>", in any case, with spaces around the token', async () => {
    for (const header of ['Bearer hgr_abc', 'bearer hgr_abc', 'BEARER   hgr_abc  ', 'Bearer\thgr_abc']) {
      seen.length = 0;
      await auth.authenticate(header);
      expect(seen, header).toEqual(['key:hgr_abc']);
    }
  });

  it('refuses anything else as missing credentials', async () => {
    for (const header of [
      undefined,
      '',
      'Bearer',
      'Bearer ',
      'Basic hgr_abc',
      'xBearer hgr_abc',
      'Bearer hgr_abc extra',
      'Bearerhgr_abc',
    ]) {
      await expect(auth.authenticate(header), String(header)).rejects.toMatchObject({
        code: 'UNAUTHENTICATED',
        message: 'Missing credentials: send Authorization: Bearer <API key or access token>',
      });
    }
  });

  it('takes its own access tokens, and says why others are refused', async () => {
    const { access_token } = await auth.login('alice', 'pw', '10.0.0.1');
    seen.length = 0;
    await auth.authenticate(`Bearer ${access_token}`);
    expect(seen).toEqual([`user:${USER}`]);

    const key = new TextEncoder().encode(secret);
    const sign = (claims: { sub?: string; exp?: number }) => {
      const t = new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setIssuer('hangar').setIssuedAt();
      if (claims.sub !== undefined) t.setSubject(claims.sub);
      if (claims.exp !== undefined) t.setExpirationTime(claims.exp);
      return t.sign(key);
    };
    const now = Math.floor(Date.now() / 1000);
    await expect(auth.authenticate(`Bearer ${await sign({ sub: USER, exp: now - 10 })}`)).rejects.toMatchObject({
      message: 'Access token expired; sign in again',
    });
    for (const claims of [{ sub: USER }, { exp: now + 60 }, { sub: 'not-a-uuid', exp: now + 60 }]) {
      await expect(auth.authenticate(`Bearer ${await sign(claims)}`), JSON.stringify(claims)).rejects.toMatchObject({
        code: 'UNAUTHENTICATED',
        message: 'Invalid access token',
      });
    }
  });
});
