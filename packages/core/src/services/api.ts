import type { z } from 'zod';
import type { ActionOptions, RequestableAction } from '../actions/registry.js';
import type {
  AgentImage,
  AgentJoinAnswer,
  AgentJoinRequest,
  CreatedJoinToken,
  CreateJoinTokenInput,
  JoinToken,
  WorkItem,
} from '../domain/agent.js';
import type { ApiKey, CreateApiKeyInput, CreatedApiKey, CreateUserInput, Principal, User } from '../domain/auth.js';
import type { ConsoleLogRequest, VmConsoleLog } from '../domain/console-log.js';
import type { ListEventsQuery, VmEvent } from '../domain/event.js';
import type { Gpu } from '../domain/gpu.js';
import type { DrainResult, Host, HostStatus, UnmanagedDomain } from '../domain/host.js';
import type { AttachIsoInput, Image, ListImagesQuery, RegisterImageInput, UploadImageInput } from '../domain/image.js';
import type { ListGpusQuery, ListVmsQuery, VmPage } from '../domain/list.js';
import type { ListOperationsQuery, MutationOptions, Operation, VmActionResult } from '../domain/operation.js';
import type { Project, Scope } from '../domain/project.js';
import type { ProjectQuotas, QuotaLimits } from '../domain/quota.js';
import type { OperationPage } from '../domain/requests.js';
import type { VmStatus } from '../domain/status.js';
import type { CreateVmInput, UpdateVmInput, Vm } from '../domain/vm.js';
import type { HostInventory, ScreenEndpoint } from '../drivers/driver.js';
import type { OpenedWatch, Watcher } from './watch.js';

/** An agent, once its credentials check out: the one host it may act for. */
export interface AgentPrincipal {
  host_id: string;
  host_name: string;
}

export interface WaitCallOptions {
  timeout_ms?: number;
  signal?: AbortSignal;
}

/**
 * The use cases the transport calls, written out as a contract: only domain types cross it,
 * so the API's types (and the SDK's) never depend on how storage is done.
 */
/** One method per requestable action (start, stop, delete, …), typed by its options. */
export type VmActionMethods = {
  [A in RequestableAction]: (scope: Scope, id: string, opts?: ActionOptions<A>) => Promise<VmActionResult>;
};

export interface Services {
  vms: VmActionMethods & {
    create(scope: Scope, input: CreateVmInput, opts?: MutationOptions): Promise<VmActionResult>;
    get(scope: Scope, id: string): Promise<Vm>;
    list(scope: Scope, query?: ListVmsQuery): Promise<VmPage>;
    update(scope: Scope, id: string, patch: UpdateVmInput, opts?: MutationOptions): Promise<VmActionResult>;
    events(scope: Scope, id: string, query?: ListEventsQuery): Promise<VmEvent[]>;
    wait(scope: Scope, id: string, status: VmStatus | VmStatus[], opts?: WaitCallOptions): Promise<{ vm: Vm; timed_out: boolean }>;
    attach_iso(scope: Scope, id: string, input: AttachIsoInput, opts?: MutationOptions): Promise<VmActionResult>;
    eject_iso(scope: Scope, id: string, opts?: MutationOptions): Promise<VmActionResult>;
    /** The configuration document the hypervisor holds for the VM (libvirt's domain XML), or null. */
    config_xml(scope: Scope, id: string): Promise<string | null>;
    console_log(scope: Scope, input: ConsoleLogRequest): Promise<VmConsoleLog>;
    /** Where this process reaches the VM's screen (VNC), for the web console's proxy; refused (409) unless it shows one now. */
    screen(scope: Scope, id: string): Promise<ScreenEndpoint>;
  };
  images: {
    register(scope: Scope, input: RegisterImageInput): Promise<{ image: Image; created: boolean }>;
    /** `body`: the image's bytes (a Node Readable is one). */
    upload(scope: Scope, input: UploadImageInput, body: AsyncIterable<Uint8Array>): Promise<Image>;
    get(scope: Scope, id: string): Promise<Image>;
    list(scope: Scope, query?: ListImagesQuery): Promise<{ images: Image[] }>;
    /** Long-poll: until the image is ready or failed, or the timeout. */
    wait(scope: Scope, id: string, opts?: WaitCallOptions): Promise<{ image: Image; timed_out: boolean }>;
    delete(scope: Scope, id: string): Promise<Image>;
  };
  operations: {
    get(scope: Scope, id: string): Promise<Operation>;
    list(scope: Scope, query?: ListOperationsQuery): Promise<z.infer<typeof OperationPage>>;
    wait(scope: Scope, id: string, opts?: WaitCallOptions): Promise<{ operation: Operation; timed_out: boolean }>;
    /** `wait`, answered with the operation's VM as well (as it is once the operation has finished, or at the timeout). */
    outcome(scope: Scope, id: string, opts?: WaitCallOptions): Promise<{ operation: Operation; vm: Vm; timed_out: boolean }>;
  };
  events: {
    /** The watch stream: checked, then replayed from the filter's `after` and live until `signal` aborts. */
    watch(who: Watcher, filter: unknown, signal: AbortSignal): Promise<OpenedWatch>;
  };
  gpus: {
    /** Admins: the fleet's GPUs. */
    list(query?: ListGpusQuery): Promise<Gpu[]>;
  };
  hosts: {
    register(host: { name: string; driver: string; inventory: HostInventory; cpu_allocation_ratio?: number }): Promise<Host>;
    list(): Promise<Host[]>;
    get(id: string): Promise<Host>;
    setStatus(id: string, status: HostStatus): Promise<void>;
    /** Domains on the host that are not Hangar's. */
    unmanaged(id: string): Promise<UnmanagedDomain[]>;
    cordon(id: string): Promise<Host>;
    uncordon(id: string): Promise<Host>;
    drain(id: string): Promise<DrainResult>;
    set_labels(input: { id: string; labels: Record<string, string> }): Promise<Host>;
    remove(id: string): Promise<Host>;
  };
  join_tokens: {
    create(actor: string, input?: CreateJoinTokenInput): Promise<CreatedJoinToken>;
    list(): Promise<JoinToken[]>;
    revoke(id: string): Promise<JoinToken>;
  };
  /** The API's side of `hangar agent`; every call but `join` and `authenticate` acts for the agent's own host only. */
  agents: {
    join(input: AgentJoinRequest): Promise<AgentJoinAnswer>;
    authenticate(credential: string): Promise<AgentPrincipal>;
    hello(agent: AgentPrincipal, input: unknown): Promise<void>;
    report(agent: AgentPrincipal, input: unknown): Promise<{ inventory_wanted: boolean }>;
    domainChanged(agent: AgentPrincipal, input: unknown): Promise<void>;
    claim(agent: AgentPrincipal, input: unknown, signal?: AbortSignal): Promise<WorkItem | null>;
    renew(agent: AgentPrincipal, input: unknown): Promise<{ held: boolean }>;
    finish(agent: AgentPrincipal, input: unknown): Promise<{ ended: boolean }>;
    defer(agent: AgentPrincipal, input: unknown): Promise<{ deferred: boolean }>;
    checkpoint(agent: AgentPrincipal, input: unknown): Promise<void>;
    image(agent: AgentPrincipal, input: unknown, signal?: AbortSignal): Promise<AgentImage | null>;
    mayReadImage(agent: AgentPrincipal, imageId: string): Promise<boolean>;
  };
  projects: {
    create(input: { name: string }): Promise<Project>;
    ensure(name: string): Promise<Project>;
    get(id: string): Promise<Project>;
    list(): Promise<Project[]>;
    quotas(id: string): Promise<ProjectQuotas>;
    set_quotas(id: string, limits: QuotaLimits): Promise<ProjectQuotas>;
  };
  users: {
    create(actor: Principal, input: CreateUserInput): Promise<User>;
    list(actor: Principal): Promise<User[]>;
  };
  api_keys: {
    create(actor: Principal, input: CreateApiKeyInput): Promise<CreatedApiKey>;
    list(actor: Principal): Promise<ApiKey[]>;
    revoke(actor: Principal, id: string): Promise<ApiKey>;
  };
  auth: {
    password(username: string, password: string): Promise<Principal>;
    apiKey(key: string): Promise<Principal>;
    user(userId: string): Promise<Principal>;
    setting(key: string): Promise<string>;
    bootstrap(opts?: { api_key?: string; password?: string }): Promise<{
      project: Project;
      admin: User;
      api_key: string | null;
      generated_password: string | null;
    }>;
  };
}
