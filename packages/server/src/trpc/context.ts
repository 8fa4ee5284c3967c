import type { AgentPrincipal, Logger, Principal, Services } from '@hangar/core';
import type { WaitSlots } from './wait-slots.js';

/** Facts about one request that the HTTP layer and the procedures share (the access log reads them). */
export interface RequestInfo {
  requestId: string;
  ip: string;
  principal: Principal | null;
  procedure: string | null;
  /** Sign-ins attempted in this HTTP request (a tRPC batch carries several calls). */
  logins: number;
}

/** What procedures need of authentication (the Authenticator provides it). */
export interface AuthPort {
  authenticate(authorization: string | undefined): Promise<Principal>;
  authenticateAgent(authorization: string | undefined): Promise<AgentPrincipal>;
  login(username: string, password: string, address: string): Promise<{ access_token: string; token_type: 'bearer'; expires_in: number }>;
}

/** Issues tickets for the VM screen's WebSocket (kept by the HTTP layer, which redeems them). */
export interface ConsoleTicketIssuer {
  issue(principal: Principal, vm_id: string): { ticket: string; expires_at: Date };
}

/**
 * Everything a procedure gets. Only interfaces appear here, so the router's type (which
 * carries this) stays free of storage and logging libraries: the SDK's types are built from it.
 */
export interface Context {
  services: Services;
  auth: AuthPort;
  log: Logger;
  info: RequestInfo;
  authorization: string | undefined;
  /** Aborted when the server is shutting down: long waits answer early. */
  shutdown: AbortSignal;
  /**
   * Aborted when the caller goes away, made when first asked for (only a long-poll asks): a
   * signal of its own for every request was 2% of a cheap read's time. Procedures called
   * through tRPC's fetch adapter get the request's own `signal` instead; `waitSignal` takes
   * whichever there is.
   */
  client_gone?: () => AbortSignal;
  /** Bounds the long-polls each principal holds at once. */
  waits: WaitSlots;
  /** Tickets for the VM screen's WebSocket. */
  console_tickets: ConsoleTicketIssuer;
}
