import { randomBytes } from 'node:crypto';
import { errors, type Principal } from '@hangar/core';
import type { ConsoleTicketIssuer } from '../trpc/context.js';

/** What a ticket was issued for. */
export interface ConsoleTicketGrant {
  vm_id: string;
  principal: Principal;
  expires_at: number;
}

/** Tickets one principal may hold unused at once: each costs memory until it expires. */
const MAX_UNUSED_PER_PRINCIPAL = 32;

/**
 * Tickets for the VM screen's WebSocket (`vms.console_ticket`): 256 random bits, single use,
 * bound to one VM and to the principal (and so its project), valid `ttl_ms`.
 *
 * They live in this process's memory, not in the database: a ticket is redeemed a moment after
 * it is issued, by the same browser, and the WebSocket it opens is held by one process anyway.
 * Behind a load balancer the ticket request and the WebSocket must reach the same API process
 * (sticky sessions, or one process serving consoles); a ticket presented elsewhere is unknown (401).
 */
export class ConsoleTickets implements ConsoleTicketIssuer {
  private readonly grants = new Map<string, ConsoleTicketGrant>();

  constructor(
    private readonly ttl_ms = 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  issue(principal: Principal, vm_id: string): { ticket: string; expires_at: Date } {
    this.sweep();
    const holder = holderOf(principal);
    let unused = 0;
    for (const g of this.grants.values()) if (holderOf(g.principal) === holder) unused++;
    if (unused >= MAX_UNUSED_PER_PRINCIPAL) {
      throw errors.rateLimited(
        `Too many unused console tickets (${MAX_UNUSED_PER_PRINCIPAL} per key or user); use one or let them expire`,
        1,
      );
    }
    const ticket = randomBytes(32).toString('base64url');
    const expires_at = this.now() + this.ttl_ms;
    this.grants.set(ticket, { vm_id, principal, expires_at });
    return { ticket, expires_at: new Date(expires_at) };
  }

  /** The ticket's grant, used up by this call whatever comes of it; null if unknown, used or expired. */
  redeem(ticket: string): ConsoleTicketGrant | null {
    const grant = this.grants.get(ticket);
    if (!grant) return null;
    this.grants.delete(ticket);
    return grant.expires_at > this.now() ? grant : null;
  }

  /** Forgets expired tickets (at each issue: memory stays bounded by what was issued in one TTL). */
  private sweep(): void {
    const now = this.now();
    for (const [ticket, g] of this.grants) if (g.expires_at <= now) this.grants.delete(ticket);
  }
}

/** Whose ticket it is: an API key, or a user signed in by token (as WaitSlots counts them). */
const holderOf = (p: Principal) => p.api_key_id ?? `user:${p.user_id}`;
