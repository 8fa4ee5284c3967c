import { AGENT_CREDENTIAL_PREFIX, type AgentPrincipal, API_KEY_PREFIX, errors, type Principal, type Services, Uuid } from '@hangar/core';
import { errors as joseErrors, jwtVerify, SignJWT } from 'jose';
import type { AuthPort } from '../trpc/context.js';
import { LoginLimiter } from './login-limiter.js';

export interface AuthenticatorOptions {
  services: Services;
  /** HMAC secret for access tokens. */
  secret: string;
  ttlSeconds: number;
  limiter?: LoginLimiter;
}

const ISSUER = 'hangar';

/** Bearer tokens to principals: API keys (`hgr_…`) or access tokens issued by `auth.token`. */
export class Authenticator implements AuthPort {
  private readonly key: Uint8Array;
  readonly limiter: LoginLimiter;

  constructor(private readonly opts: AuthenticatorOptions) {
    this.key = new TextEncoder().encode(opts.secret);
    this.limiter = opts.limiter ?? new LoginLimiter();
  }

  async authenticate(authorization: string | undefined): Promise<Principal> {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
    if (!match) {
      throw errors.unauthenticated('Missing credentials: send Authorization: Bearer <API key or access token>');
    }
    const token = match[1]!;
    if (token.startsWith(API_KEY_PREFIX)) return this.opts.services.auth.apiKey(token);
    // A host's credentials reach its own work and nothing else: no project, no VM, no user.
    if (token.startsWith(AGENT_CREDENTIAL_PREFIX)) throw errors.forbidden('Agent credentials are for the agent protocol only');
    return this.verifyAccessToken(token);
  }

  /** Agent credentials (`hga_…`) to the one host they are bound to. */
  async authenticateAgent(authorization: string | undefined): Promise<AgentPrincipal> {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
    if (!match) throw errors.unauthenticated('Missing agent credentials: send Authorization: Bearer <agent credentials>');
    return this.opts.services.agents.authenticate(match[1]!);
  }

  /** Username and password to a short-lived access token, with failed attempts rate-limited. */
  async login(username: string, password: string, address: string) {
    // Counted before the password is checked: parallel and batched guesses are counted too.
    this.limiter.begin(username, address);
    const principal = await this.opts.services.auth.password(username, password);
    this.limiter.succeed(username, address);
    const access_token = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(principal.user_id)
      .setIssuer(ISSUER)
      .setIssuedAt()
      .setExpirationTime(`${this.opts.ttlSeconds}s`)
      .sign(this.key);
    return { access_token, token_type: 'bearer' as const, expires_in: this.opts.ttlSeconds };
  }

  private async verifyAccessToken(token: string): Promise<Principal> {
    let sub: string | undefined;
    try {
      // Every token we issue expires and names its user: one without either is not ours.
      const { payload } = await jwtVerify(token, this.key, { algorithms: ['HS256'], issuer: ISSUER, requiredClaims: ['exp', 'sub'] });
      sub = payload.sub;
    } catch (err) {
      const expired = err instanceof joseErrors.JWTExpired;
      throw errors.unauthenticated(expired ? 'Access token expired; sign in again' : 'Invalid access token');
    }
    if (!Uuid.safeParse(sub).success) throw errors.unauthenticated('Invalid access token');
    return this.opts.services.auth.user(sub!);
  }
}
