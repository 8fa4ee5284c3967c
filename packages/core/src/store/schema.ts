import { sql } from 'drizzle-orm';
import {
  bigint,
  bigserial,
  boolean,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  real,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';
import type { VmGpuDevice } from '../domain/gpu.js';
import type { Network } from '../domain/vm.js';

/** Millisecond precision, so a timestamp survives the round trip through a JS Date (keyset cursors rely on it). */
const ts = (name: string) => timestamp(name, { withTimezone: true, precision: 3, mode: 'date' });
const created = () => ts('created_at').notNull().defaultNow();
const updated = () => ts('updated_at').notNull().defaultNow();

export const projects = pgTable('projects', {
  id: uuid('id').primaryKey().defaultRandom(),
  name: text('name').notNull().unique(),
  /** The number the project's next VM gets (`vms.number`): bumped by each create, so never reused. */
  next_vm_number: integer('next_vm_number').notNull().default(1),
  created_at: created(),
  updated_at: updated(),
});

/** A project's limits; a project without a row (or a null column) is unlimited. */
export const projectQuotas = pgTable('project_quotas', {
  project_id: uuid('project_id')
    .primaryKey()
    .references(() => projects.id),
  vms: integer('vms'),
  cpu_cores: integer('cpu_cores'),
  memory_mb: integer('memory_mb'),
  disk_gb: integer('disk_gb'),
  images: integer('images'),
  running_downloads: integer('running_downloads'),
  gpus: integer('gpus'),
  updated_at: updated(),
});

export const hosts = pgTable('hosts', {
  id: uuid('id').primaryKey().defaultRandom(),
  /** A short number, unique in the fleet and never reused (`host 3`): what an all-digits host reference means first. */
  number: integer('number').notNull().unique().generatedAlwaysAsIdentity(),
  name: text('name').notNull().unique(),
  driver: text('driver').notNull(),
  status: text('status').notNull().default('online'),
  /** Why the host is offline, when its driver said. */
  status_reason: text('status_reason'),
  cpus: integer('cpus').notNull().default(0),
  memory_mb: integer('memory_mb').notNull().default(0),
  disk_gb: integer('disk_gb').notNull().default(0),
  allocated_cpus: integer('allocated_cpus').notNull().default(0),
  allocated_memory_mb: integer('allocated_memory_mb').notNull().default(0),
  allocated_disk_gb: integer('allocated_disk_gb').notNull().default(0),
  /** vCPUs per physical CPU the scheduler may hand out. */
  cpu_allocation_ratio: real('cpu_allocation_ratio').notNull().default(4),
  labels: jsonb('labels').$type<Record<string, string>>().notNull().default({}),
  /** No new placements (an admin's cordon, or a drain). */
  cordoned: boolean('cordoned').notNull().default(false),
  draining: boolean('draining').notNull().default(false),
  /** The `hangar agent` serving the host: its version, and the hash of its credentials (null for the API process's own host). */
  agent_version: text('agent_version'),
  agent_credential_hash: text('agent_credential_hash').unique(),
  last_seen_at: ts('last_seen_at'),
  created_at: created(),
  updated_at: updated(),
});

/**
 * A host's GPUs, one row each, refreshed from its inventory. `vm_id` is who holds it: the
 * scheduler assigns rows in the transaction that places the VM (the row locks make two creates
 * never get one GPU). A VM keeps a copy of what it holds (`vms.gpu_devices`), written by the
 * same statements (`store/gpu-rows.ts`).
 */
export const gpuDevices = pgTable(
  'gpu_devices',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    host_id: uuid('host_id')
      .notNull()
      .references(() => hosts.id, { onDelete: 'cascade' }),
    address: text('address').notNull(),
    vendor_id: text('vendor_id').notNull(),
    device_id: text('device_id').notNull(),
    vendor: text('vendor'),
    model: text('model'),
    memory_mb: integer('memory_mb'),
    driver: text('driver'),
    iommu_group: integer('iommu_group'),
    numa_node: integer('numa_node'),
    health: text('health').notNull().default('healthy'),
    health_reason: text('health_reason'),
    /** Lowercase words of the model's name and its vendor:device id: what `gpus.model` matches. */
    model_words: text('model_words').array().notNull().default(sql`'{}'::text[]`),
    /** Lowercase words of the vendor's name and its id: what `gpus.vendor` matches. */
    vendor_words: text('vendor_words').array().notNull().default(sql`'{}'::text[]`),
    /** The host's inventory no longer lists it (kept while a VM holds it, unhealthy). */
    missing: boolean('missing').notNull().default(false),
    vm_id: uuid('vm_id'),
    created_at: created(),
    updated_at: updated(),
  },
  (t) => [
    uniqueIndex('gpu_devices_host_address_uq').on(t.host_id, t.address),
    index('gpu_devices_vm_idx').on(t.vm_id).where(sql`${t.vm_id} IS NOT NULL`),
    index('gpu_devices_free_idx').on(t.host_id).where(sql`${t.vm_id} IS NULL AND ${t.health} = 'healthy'`),
  ],
);

/** Tokens an admin makes for agents to join with: traded for per-host credentials. Only hashes are stored. */
export const joinTokens = pgTable('join_tokens', {
  id: uuid('id').primaryKey().defaultRandom(),
  token_hash: text('token_hash').notNull().unique(),
  description: text('description').notNull().default(''),
  created_by: text('created_by').notNull(),
  expires_at: ts('expires_at').notNull(),
  revoked_at: ts('revoked_at'),
  created_at: created(),
});

/** ISO and disk images in this server's image store, downloaded by the worker or uploaded. */
export const images = pgTable(
  'images',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    project_id: uuid('project_id')
      .notNull()
      .references(() => projects.id),
    name: text('name').notNull(),
    kind: text('kind').notNull(),
    /** iso, raw or qcow2, once the bytes are in. */
    format: text('format'),
    status: text('status').notNull().default('pending'),
    source_url: text('source_url'),
    expected_sha256: text('expected_sha256'),
    sha256: text('sha256'),
    size_bytes: bigint('size_bytes', { mode: 'number' }),
    bytes_done: bigint('bytes_done', { mode: 'number' }).notNull().default(0),
    bytes_total: bigint('bytes_total', { mode: 'number' }),
    error: text('error'),
    attempts: integer('attempts').notNull().default(0),
    lease_owner: text('lease_owner'),
    lease_expires_at: ts('lease_expires_at'),
    created_at: created(),
    updated_at: updated(),
  },
  (t) => [
    index('images_project_created_idx').on(t.project_id, t.created_at.desc(), t.id.desc()),
    index('images_open_idx').on(t.created_at).where(sql`${t.status} IN ('pending', 'downloading')`),
    // The same URL and checksum is downloaded once per project (a failed download does not count).
    uniqueIndex('images_source_once_uq')
      .on(t.project_id, t.source_url, sql`coalesce(${t.expected_sha256}, '')`)
      .where(sql`${t.source_url} IS NOT NULL AND ${t.status} <> 'error'`),
  ],
);

export const vms = pgTable(
  'vms',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    project_id: uuid('project_id')
      .notNull()
      .references(() => projects.id),
    host_id: uuid('host_id').references(() => hosts.id),
    /** Unique in the project and never reused (deleted VMs keep theirs): taken from `projects.next_vm_number` at insert. */
    number: integer('number').notNull(),
    name: text('name').notNull(),
    status: text('status').notNull(),
    cpu_cores: integer('cpu_cores').notNull(),
    memory_mb: integer('memory_mb').notNull(),
    disk_gb: integer('disk_gb').notNull(),
    os_type: text('os_type').notNull(),
    os_version: text('os_version'),
    labels: jsonb('labels').$type<Record<string, string>>().notNull().default({}),
    public_ip: text('public_ip'),
    network: jsonb('network').$type<Network>().notNull(),
    vnc_enabled: boolean('vnc_enabled').notNull().default(true),
    vnc_port: integer('vnc_port'),
    /** GPUs the VM asked for: how many, and of which model and vendor (words of their names). */
    gpu_count: integer('gpu_count').notNull().default(0),
    gpu_model: text('gpu_model'),
    gpu_vendor: text('gpu_vendor'),
    /** The GPUs it holds: a copy of its `gpu_devices` rows, written with them. */
    gpu_devices: jsonb('gpu_devices').$type<VmGpuDevice[]>().notNull().default([]),
    /** The image the VM's disk was made from, if any. */
    image_id: uuid('image_id').references(() => images.id, { onDelete: 'set null' }),
    /** The ISO image in the VM's CD-ROM drive, if any. */
    iso_image_id: uuid('iso_image_id').references(() => images.id, { onDelete: 'set null' }),
    /** The hypervisor's handle for the domain, once defined. */
    domain_ref: text('domain_ref'),
    current_operation_id: uuid('current_operation_id'),
    last_error: text('last_error'),
    version: integer('version').notNull().default(1),
    created_at: created(),
    updated_at: updated(),
    deleted_at: ts('deleted_at'),
  },
  (t) => [
    uniqueIndex('vms_project_number_uq').on(t.project_id, t.number),
    uniqueIndex('vms_project_name_live_uq').on(t.project_id, t.name).where(sql`${t.deleted_at} IS NULL`),
    index('vms_project_created_idx').on(t.project_id, t.created_at.desc(), t.id.desc()),
    index('vms_project_status_created_idx').on(t.project_id, t.status, t.created_at.desc(), t.id.desc()),
    index('vms_host_idx').on(t.host_id),
    index('vms_domain_ref_idx').on(t.domain_ref),
    index('vms_labels_gin').using('gin', sql`${t.labels} jsonb_path_ops`),
  ],
);

export const operations = pgTable(
  'operations',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    vm_id: uuid('vm_id')
      .notNull()
      .references(() => vms.id),
    project_id: uuid('project_id')
      .notNull()
      .references(() => projects.id),
    host_id: uuid('host_id').references(() => hosts.id),
    action: text('action').notNull(),
    status: text('status').notNull().default('pending'),
    input: jsonb('input').$type<Record<string, unknown>>().notNull().default({}),
    error: text('error'),
    attempts: integer('attempts').notNull().default(0),
    lease_owner: text('lease_owner'),
    lease_expires_at: ts('lease_expires_at'),
    deadline_at: ts('deadline_at').notNull(),
    created_at: created(),
    updated_at: updated(),
    started_at: ts('started_at'),
    finished_at: ts('finished_at'),
  },
  (t) => [
    index('operations_open_idx').on(t.created_at).where(sql`${t.status} IN ('pending', 'running')`),
    // An agent claims only its host's operations: with many hosts, the open ones are found by host.
    index('operations_host_open_idx').on(t.host_id, t.created_at).where(sql`${t.status} IN ('pending', 'running')`),
    index('operations_vm_idx').on(t.vm_id, t.created_at.desc()),
    // The database itself guarantees one operation in flight per VM.
    uniqueIndex('operations_one_open_per_vm_uq').on(t.vm_id).where(sql`${t.status} IN ('pending', 'running')`),
    index('operations_project_idx').on(t.project_id, t.created_at.desc(), t.id.desc()),
  ],
);

export const events = pgTable(
  'events',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    /** The VM the event is about; null for an image's or a host's. */
    vm_id: uuid('vm_id').references(() => vms.id),
    /** Null for a host's event (hosts belong to the fleet, not to a project). */
    project_id: uuid('project_id'),
    operation_id: uuid('operation_id'),
    /** An image's events (written by a trigger on `images`). */
    image_id: uuid('image_id'),
    /** A host's events (written by a trigger on `hosts`). */
    host_id: uuid('host_id'),
    type: text('type').notNull(),
    message: text('message').notNull(),
    from_status: text('from_status'),
    to_status: text('to_status'),
    data: jsonb('data').$type<Record<string, unknown>>().notNull().default({}),
    /**
     * The event's place in the watch stream, given after it committed (`store/event-sequencer.ts`):
     * ids are taken at insert but commit in another order, so only this order lets a watcher
     * resume from a position without missing an event that committed late.
     */
    seq: bigint('seq', { mode: 'number' }),
    created_at: created(),
  },
  (t) => [
    index('events_vm_idx').on(t.vm_id, t.id),
    uniqueIndex('events_seq_uq').on(t.seq),
    index('events_unsequenced_idx').on(t.id).where(sql`${t.seq} IS NULL`),
  ],
);

export const idempotencyKeys = pgTable(
  'idempotency_keys',
  {
    project_id: uuid('project_id').notNull(),
    key: text('key').notNull(),
    request_hash: text('request_hash').notNull(),
    response: jsonb('response').notNull(),
    created_at: created(),
  },
  (t) => [primaryKey({ columns: [t.project_id, t.key] }), index('idempotency_keys_created_idx').on(t.created_at)],
);

export const users = pgTable(
  'users',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    /** Unique in its project only: another project's names are not anyone's business. */
    username: text('username').notNull(),
    /** scrypt; null for users who sign in with API keys only. */
    password_hash: text('password_hash'),
    project_id: uuid('project_id')
      .notNull()
      .references(() => projects.id),
    role: text('role').notNull(),
    global_admin: boolean('global_admin').notNull().default(false),
    created_at: created(),
    updated_at: updated(),
  },
  (t) => [uniqueIndex('users_project_username_uq').on(t.project_id, t.username), index('users_username_idx').on(t.username)],
);

export const apiKeys = pgTable(
  'api_keys',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    user_id: uuid('user_id')
      .notNull()
      .references(() => users.id),
    project_id: uuid('project_id')
      .notNull()
      .references(() => projects.id),
    name: text('name').notNull(),
    prefix: text('prefix').notNull(),
    /** sha256 of the key: keys are random and long, so a fast hash is enough and lookups stay cheap. */
    key_hash: text('key_hash').notNull().unique(),
    role: text('role').notNull(),
    created_at: created(),
    last_used_at: ts('last_used_at'),
    expires_at: ts('expires_at'),
    revoked_at: ts('revoked_at'),
  },
  (t) => [index('api_keys_user_idx').on(t.user_id)],
);

/** Values the platform generates once and keeps (the JWT signing secret). */
export const settings = pgTable('settings', {
  key: text('key').primaryKey(),
  value: text('value').notNull(),
  created_at: created(),
});

export type VmRow = typeof vms.$inferSelect;
export type OperationRow = typeof operations.$inferSelect;
export type EventRow = typeof events.$inferSelect;
export type HostRow = typeof hosts.$inferSelect;
export type ImageRow = typeof images.$inferSelect;
export type ProjectRow = typeof projects.$inferSelect;
export type UserRow = typeof users.$inferSelect;
export type ApiKeyRow = typeof apiKeys.$inferSelect;
export type JoinTokenRow = typeof joinTokens.$inferSelect;
export type GpuDeviceRow = typeof gpuDevices.$inferSelect;
