import { randomBytes } from 'node:crypto';
import { and, eq, gt, inArray, isNull, min, or, sql } from 'drizzle-orm';
import {
  AGENT_CREDENTIAL_PREFIX,
  AgentHelloRequest,
  type AgentImage,
  type AgentJoinAnswer,
  AgentJoinRequest,
  CheckpointRequest,
  ClaimRequest,
  DeferRequest,
  HostReport,
  ImageWaitRequest,
  LeaseRequest,
  ReportedChange,
  ReportedEnding,
  type WorkItem,
} from '../domain/agent.js';
import { errors } from '../domain/errors.js';
import { DriverError } from '../drivers/driver.js';
import type { Db } from '../store/database.js';
import type { Notifier } from '../store/notifier.js';
import { claimNextOperation, renewLease } from '../store/operation-rows.js';
import { hosts, joinTokens, type OperationRow, operations, type VmRow, vms } from '../store/schema.js';
import { recordDomainRef } from '../store/vm-rows.js';
import { NO_TELEMETRY, type Telemetry } from '../telemetry.js';
import { deferWithReason } from '../worker/defer.js';
import { finishOperation } from '../worker/finish.js';
import type { DriftWatch } from '../worker/maintenance/drift.js';
import { readyImage } from '../worker/media.js';
import { acceptEnding } from './agent-endings.js';
import type { AgentPrincipal } from './api.js';
import { inventoryColumns, refreshInventory } from './hosts.js';
import { hashJoinToken } from './join-tokens.js';
import { isUniqueViolation } from './pg-errors.js';
import { sha256Hex } from './sha256.js';
import { parse } from './validate.js';

export interface AgentServiceDeps {
  db: Db;
  notifier?: Notifier;
  drift: DriftWatch;
  /** How long an agent's claim holds before the operation may be taken over. */
  lease_ms?: number;
  /** Told of agents' takeovers and endings. */
  telemetry?: Telemetry;
}

/** The lease holder's name for an agent's worker: its host's name first, so no two hosts' workers share one. */
const ownerOf = (agent: AgentPrincipal, worker_id: string) => `${agent.host_name}/${worker_id}`;

/** How long past its deadline an agent may still hold an operation (to end it with what it saw). */
const DEADLINE_GRACE_MS = 30_000;

/** Actions whose operations read images (a VM made from one, an ISO attached). */
const IMAGE_ACTIONS = ['create', 'update_hardware'];

/** How long an agent's authenticated credentials are remembered. */
const PRINCIPAL_TTL_MS = 60_000;

/** How long one call waits for an image still downloading before the agent asks again. */
const IMAGE_WAIT_MS = 20_000;

/**
 * Re-checks for claimable work at least this often while a claim waits, besides when a lease
 * on the host expires (an operation to take over, a retry whose pause ended) and on NOTIFY.
 */
const MAX_CLAIM_SLEEP_MS = 30_000;

/**
 * The API's side of `hangar agent`: joining with a token, heartbeats, claims, leases and
 * endings. Every call is restricted to the agent's own host (as Kubernetes' NodeRestriction):
 * an agent cannot see, claim, renew or end another host's operations, nor read images no
 * operation on its host needs.
 */
export class AgentService {
  private readonly db: Db;
  private readonly leaseMs: number;
  private readonly principals = new Map<string, { agent: AgentPrincipal; until: number }>();

  constructor(private readonly deps: AgentServiceDeps) {
    this.db = deps.db;
    this.leaseMs = deps.lease_ms ?? 30_000;
  }

  /** A join token traded for credentials bound to a new host; the credential is returned only here. */
  async join(raw: unknown): Promise<AgentJoinAnswer> {
    const req = parse(AgentJoinRequest, raw, 'join request');
    const now = new Date();
    const [token] = await this.db
      .select()
      .from(joinTokens)
      .where(and(eq(joinTokens.token_hash, hashJoinToken(req.token)), isNull(joinTokens.revoked_at), gt(joinTokens.expires_at, now)));
    if (!token) throw errors.unauthenticated('Invalid, expired or revoked join token');
    const credential = `${AGENT_CREDENTIAL_PREFIX}${randomBytes(32).toString('base64url')}`;
    try {
      const [row] = await this.db
        .insert(hosts)
        .values({
          name: req.name,
          driver: req.driver,
          ...inventoryColumns(req.inventory),
          labels: req.labels,
          agent_version: req.version,
          agent_credential_hash: sha256Hex(credential),
          last_seen_at: now,
        })
        .returning({ id: hosts.id });
      return { host_id: row!.id, credential };
    } catch (err) {
      // A token lets a new host in; it never hands over one that exists (and its VMs).
      if (isUniqueViolation(err))
        throw errors.duplicate(`A host named ${req.name} is already registered; remove it first, or pick another name`);
      throw err;
    }
  }

  /**
   * Agent credentials to the host they are bound to. Remembered for a minute: every agent call
   * is authenticated, and a fleet's heartbeats would otherwise cost a query each. A host removed
   * meanwhile has nothing left to act on (its operations and VMs are gone or moved).
   */
  async authenticate(credential: string): Promise<AgentPrincipal> {
    if (!credential.startsWith(AGENT_CREDENTIAL_PREFIX)) throw errors.unauthenticated('Not agent credentials');
    const key = sha256Hex(credential);
    const known = this.principals.get(key);
    if (known && known.until > Date.now()) return known.agent;
    const [row] = await this.db.select({ id: hosts.id, name: hosts.name }).from(hosts).where(eq(hosts.agent_credential_hash, key));
    if (!row) throw errors.unauthenticated('Unknown agent credentials (was the host removed?)');
    const agent = { host_id: row.id, host_name: row.name };
    if (this.principals.size >= 100_000) this.principals.clear();
    this.principals.set(key, { agent, until: Date.now() + PRINCIPAL_TTL_MS });
    return agent;
  }

  /** An agent (re)starting: what its host has now, and the agent's version. */
  async hello(agent: AgentPrincipal, raw: unknown): Promise<void> {
    const req = parse(AgentHelloRequest, raw, 'hello');
    await this.db
      .update(hosts)
      .set({ driver: req.driver, agent_version: req.version, updated_at: new Date(), last_seen_at: new Date() })
      .where(eq(hosts.id, agent.host_id));
    await refreshInventory(this.db, agent.host_id, req.inventory);
  }

  /** A heartbeat with what the hypervisor lists: drift is settled by it. `inventory_wanted`: send what the host has next time. */
  async report(agent: AgentPrincipal, raw: unknown): Promise<{ inventory_wanted: boolean }> {
    const report = parse(HostReport, raw, 'report');
    if (report.inventory) await refreshInventory(this.db, agent.host_id, report.inventory);
    const { inventory_wanted } = await this.deps.drift.applyListing(agent.host_id, {
      asked_at: new Date(Math.min(Date.parse(report.asked_at), Date.now())),
      domains: report.domains,
      unavailable: report.unavailable,
    });
    return { inventory_wanted: inventory_wanted && !report.inventory };
  }

  async domainChanged(agent: AgentPrincipal, raw: unknown): Promise<void> {
    const { observed_at, ...change } = parse(ReportedChange, raw, 'domain change');
    const now = Date.now();
    await this.deps.drift.onDomainChange(agent.host_id, change, new Date(observed_at ? Math.min(Date.parse(observed_at), now) : now));
  }

  /** The next operation on the agent's host, claimed; waits (a long-poll) up to `wait_ms` for one. */
  async claim(agent: AgentPrincipal, raw: unknown, signal?: AbortSignal): Promise<WorkItem | null> {
    const req = parse(ClaimRequest, raw, 'claim');
    const owner = ownerOf(agent, req.worker_id);
    const deadline = Date.now() + req.wait_ms;
    let kicked = false;
    let wake = () => {};
    const off = this.deps.notifier?.onWork((hostId) => {
      // An empty host id is for everyone (work announced for no host, or notices lost in a reconnect).
      if (hostId && hostId !== agent.host_id) return;
      kicked = true;
      wake();
    });
    try {
      for (;;) {
        kicked = false;
        // An agent that hung up claims nothing: the operation would wait out a lease for nobody.
        if (signal?.aborted) return null;
        const claimed = await claimNextOperation(this.db, owner, [agent.host_id], this.leaseMs);
        if (claimed) {
          const { op } = claimed;
          if (claimed.taken_over) (this.deps.telemetry ?? NO_TELEMETRY).leaseTakenOver({ action: op.action });
          const [vm] = await this.db.select().from(vms).where(eq(vms.id, op.vm_id));
          if (vm) return workItem(op, vm);
          continue;
        }
        const left = deadline - Date.now();
        if (left <= 0 || signal?.aborted) return null;
        if (kicked) continue;
        const sleep = Math.min(left, await this.untilNextExpiry(agent.host_id), this.deps.notifier ? MAX_CLAIM_SLEEP_MS : 1_000);
        // Work announced while the next expiry was read: claim again rather than sleep through it.
        if (kicked) continue;
        await new Promise<void>((resolve) => {
          const done = () => {
            clearTimeout(timer);
            signal?.removeEventListener('abort', done);
            wake = () => {};
            resolve();
          };
          const timer = setTimeout(done, Math.max(0, sleep));
          wake = done;
          signal?.addEventListener('abort', done, { once: true });
        });
        // The wait is over with nothing announced: the agent's next claim looks again at once,
        // so looking here too would only double an idle host's statements.
        if (!kicked && Date.now() >= deadline) return null;
      }
    } finally {
      off?.();
    }
  }

  /**
   * Extends the agent's lease on an operation of its host, until the operation's deadline (and
   * a grace): an agent cannot keep an operation open past it.
   */
  async renew(agent: AgentPrincipal, raw: unknown): Promise<{ held: boolean }> {
    const req = parse(LeaseRequest, raw, 'lease');
    const [op] = await this.db
      .select({ deadline_at: operations.deadline_at })
      .from(operations)
      .where(and(eq(operations.id, req.operation_id), eq(operations.host_id, agent.host_id)));
    if (!op || op.deadline_at.getTime() + DEADLINE_GRACE_MS < Date.now()) return { held: false };
    return { held: await renewLease(this.db, req.operation_id, ownerOf(agent, req.worker_id), this.leaseMs) };
  }

  async finish(agent: AgentPrincipal, raw: unknown): Promise<{ ended: boolean }> {
    const report = parse(ReportedEnding, raw, 'ending');
    const owner = ownerOf(agent, report.worker_id);
    const held = await this.heldOperation(agent, owner, report.operation_id);
    if (!held) return { ended: false };
    const ending = acceptEnding(held.op, held.vm, report);
    return { ended: await finishOperation(this.db, held.op, owner, ending, this.deps.telemetry) };
  }

  async defer(agent: AgentPrincipal, raw: unknown): Promise<{ deferred: boolean }> {
    const req = parse(DeferRequest, raw, 'defer');
    const owner = ownerOf(agent, req.worker_id);
    const held = await this.heldOperation(agent, owner, req.operation_id);
    if (!held) return { deferred: false };
    const deferred = await deferWithReason(this.db, held.op, owner, req.delay_ms, req.reason);
    return { deferred };
  }

  /** The domain a create defined, recorded before the operation ends. */
  async checkpoint(agent: AgentPrincipal, raw: unknown): Promise<void> {
    const req = parse(CheckpointRequest, raw, 'checkpoint');
    const held = await this.heldOperation(agent, ownerOf(agent, req.worker_id), req.operation_id);
    if (held?.op.action !== 'create') throw errors.invalidState('Only a create this agent holds records a domain', {});
    await recordDomainRef(this.db, held.op.vm_id, held.op.id, {
      domain_ref: req.domain_ref,
      ...(req.vnc_port !== undefined ? { vnc_port: req.vnc_port } : {}),
      ...(req.network ? { network: { ...held.vm.network, mac_address: req.network.mac_address } } : {}),
    });
  }

  /**
   * An image an operation the agent holds needs: what to fetch and check its bytes against, once
   * it is ready; null while it is still downloading (the agent asks again). A failed image fails
   * the call, and so the operation.
   */
  async image(agent: AgentPrincipal, raw: unknown, signal?: AbortSignal): Promise<AgentImage | null> {
    const req = parse(ImageWaitRequest, raw, 'image');
    const held = await this.heldOperation(agent, ownerOf(agent, req.worker_id), req.operation_id);
    if (!held || !needsImage(held.op, held.vm, req.image_id)) throw errors.notFound('Image', req.image_id);
    const waiting = signal ? AbortSignal.any([signal, AbortSignal.timeout(IMAGE_WAIT_MS)]) : AbortSignal.timeout(IMAGE_WAIT_MS);
    let row: Awaited<ReturnType<typeof readyImage>>;
    try {
      row = await readyImage(this.db, req.image_id, waiting);
    } catch (err) {
      if (err instanceof DriverError && err.kind === 'aborted') return null;
      throw errors.invalidState(err instanceof Error ? err.message : String(err), {});
    }
    if (!row.sha256 || row.size_bytes === null) throw errors.invalidState(`Image ${row.name} has no checksum`, {});
    return {
      id: row.id,
      kind: row.kind as AgentImage['kind'],
      format: row.format ?? 'raw',
      size_bytes: row.size_bytes,
      sha256: row.sha256,
    };
  }

  /** Whether an open operation on the agent's host needs this image: only then may the agent read its bytes. */
  async mayReadImage(agent: AgentPrincipal, imageId: string): Promise<boolean> {
    const open = await this.db
      .select({ op: operations, vm: vms })
      .from(operations)
      .innerJoin(vms, eq(vms.id, operations.vm_id))
      .where(
        and(
          eq(operations.host_id, agent.host_id),
          sql`${operations.status} IN ('pending', 'running')`,
          inArray(operations.action, IMAGE_ACTIONS),
          or(eq(vms.image_id, imageId), eq(vms.iso_image_id, imageId), sql`${operations.input} -> 'iso' ->> 'image_id' = ${imageId}`),
        ),
      )
      .limit(1);
    return open.length > 0;
  }

  private async heldOperation(agent: AgentPrincipal, owner: string, id: string): Promise<{ op: OperationRow; vm: VmRow } | null> {
    const [row] = await this.db
      .select({ op: operations, vm: vms })
      .from(operations)
      .innerJoin(vms, eq(vms.id, operations.vm_id))
      .where(
        and(
          eq(operations.id, id),
          eq(operations.host_id, agent.host_id),
          eq(operations.lease_owner, owner),
          eq(operations.status, 'running'),
        ),
      );
    return row ?? null;
  }

  /** Milliseconds until a lease on the host expires (an operation to take over, or a deferred retry), capped. */
  private async untilNextExpiry(hostId: string): Promise<number> {
    const [row] = await this.db
      .select({ next: min(operations.lease_expires_at) })
      .from(operations)
      .where(and(eq(operations.host_id, hostId), eq(operations.status, 'running')));
    return row?.next ? Math.max(10, row.next.getTime() - Date.now() + 10) : MAX_CLAIM_SLEEP_MS;
  }
}

function workItem(op: OperationRow, vm: VmRow): WorkItem {
  return {
    operation: {
      id: op.id,
      vm_id: op.vm_id,
      project_id: op.project_id,
      action: op.action as WorkItem['operation']['action'],
      input: op.input,
      attempts: op.attempts,
      deadline_at: op.deadline_at.toISOString(),
    },
    vm: {
      id: vm.id,
      name: vm.name,
      status: vm.status as WorkItem['vm']['status'],
      cpu_cores: vm.cpu_cores,
      memory_mb: vm.memory_mb,
      disk_gb: vm.disk_gb,
      os_type: vm.os_type as WorkItem['vm']['os_type'],
      network: vm.network,
      vnc_enabled: vm.vnc_enabled,
      domain_ref: vm.domain_ref,
      image_id: vm.image_id,
      iso_image_id: vm.iso_image_id,
      gpu_devices: vm.gpu_devices,
    },
  };
}

function needsImage(op: OperationRow, vm: VmRow, imageId: string): boolean {
  if (!IMAGE_ACTIONS.includes(op.action)) return false;
  const iso = op.input.iso as { image_id?: string | null } | undefined;
  return vm.image_id === imageId || vm.iso_image_id === imageId || iso?.image_id === imageId;
}
