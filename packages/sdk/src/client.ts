import { createTRPCClient, httpBatchLink, httpLink, splitLink, type TRPCClient } from '@trpc/client';
import {
  AuthenticationError,
  ConflictError,
  ConnectionError,
  HangarError,
  OperationFailedError,
  RateLimitError,
  ServerError,
  TimeoutError,
  toSdkError,
} from './errors.js';
import { statusPreservingFetch } from './fetch.js';
import { PagePromise, type VmList } from './pagination.js';
import type { ExportOptions, ImportOptions, Transport } from './transfers.js';
import * as transfers from './transfers.js';
import type {
  ApiKey,
  AppRouter,
  ConsoleTicket,
  CreateApiKeyInput,
  CreateUserInput,
  CreateVmSpec,
  Gpu,
  Host,
  Image,
  ListEventsQuery,
  ListGpusQuery,
  ListImagesQuery,
  ListOperationsQuery,
  ListVmsQuery,
  Operation,
  OperationPage,
  Principal,
  Project,
  QuotaLimits,
  RegisterImageInput,
  UnmanagedDomain,
  UpdateVmPatch,
  User,
  Vm,
  VmActionResult,
  VmConfig,
  VmConsoleLog,
  VmEvent,
  VmStatus,
} from './types.js';
import { type WatchEvent, type WatchFilter, type WatchOptions, watchEvents } from './watch.js';

export interface ClientOptions {
  /** Defaults to HANGAR_URL, else http://127.0.0.1:8080. */
  base_url?: string;
  /** Defaults to HANGAR_API_KEY. */
  api_key?: string;
  /** Sign in with a password instead of a key (`authenticate()` exchanges it for a token). */
  username?: string;
  password?: string;
  /** Per-call timeout (default 60 s). */
  timeout_ms?: number;
  /** How long an export, import or upload may take to be answered (default 1 hour). */
  transfer_timeout_ms?: number;
  /** Retries after connection errors, 429 and 5xx (default 2), with exponential backoff and jitter. */
  max_retries?: number;
  fetch?: typeof fetch;
}

export interface CallOptions {
  timeout_ms?: number;
  signal?: AbortSignal;
}

export interface MutationOptions extends CallOptions {
  /** Sent with every try, so a retried call acts once; generated when omitted. */
  idempotency_key?: string;
  /** Refuse (409) unless the VM is at this version. */
  expected_version?: number;
  /** Return once the operation has finished; throws OperationFailedError if it did not succeed. */
  wait?: boolean;
  /** How long `wait` waits (default 10 minutes). */
  wait_timeout_ms?: number;
}

export interface WaitOptions extends CallOptions {
  /** How long to wait in all (default 10 minutes). */
  timeout_ms?: number;
}

type Retry = 'always' | 'if-not-processed' | 'never';

const DEFAULT_WAIT_MS = 600_000;
/** Long-polls are cut in slices the HTTP stack keeps open without trouble; the server itself has no cap. */
const LONG_POLL_SLICE_MS = 240_000;

function env(name: string): string | undefined {
  return typeof process !== 'undefined' ? process.env?.[name] : undefined;
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        reject(signal.reason);
      },
      { once: true },
    );
  });

/**
 * The Hangar client. Like the hypervisor SDK's `Client`, it takes its API key from the
 * environment: `new Client()` reads HANGAR_URL and HANGAR_API_KEY.
 */
export class Client {
  /** The raw typed tRPC client, for calling procedures directly. */
  readonly trpc: TRPCClient<AppRouter>;
  readonly baseUrl: string;
  private token: string | undefined;
  private readonly timeoutMs: number;
  private readonly transferTimeoutMs: number;
  private readonly maxRetries: number;

  constructor(private readonly opts: ClientOptions = {}) {
    this.baseUrl = (opts.base_url ?? env('HANGAR_URL') ?? 'http://127.0.0.1:8080').replace(/\/+$/, '');
    this.token = opts.api_key ?? (opts.username ? undefined : env('HANGAR_API_KEY'));
    this.timeoutMs = opts.timeout_ms ?? 60_000;
    this.transferTimeoutMs = opts.transfer_timeout_ms ?? 3_600_000;
    this.maxRetries = opts.max_retries ?? 2;
    const url = `${this.baseUrl}/trpc`;
    const headers = () => (this.token ? { authorization: `Bearer ${this.token}` } : {});
    const fetchImpl = statusPreservingFetch(opts.fetch);
    this.trpc = createTRPCClient<AppRouter>({
      links: [
        splitLink({
          // Long-polls travel alone, so they never hold up a batch; a sign-in too (the server
          // takes one per request). Batches stay within the server's limit of 50 calls.
          condition: (op) => op.path.endsWith('.wait') || op.path === 'auth.token',
          true: httpLink({ url, headers, fetch: fetchImpl }),
          false: httpBatchLink({ url, headers, fetch: fetchImpl, maxURLLength: 4000, maxItems: 50 }),
        }),
      ],
    });
  }

  /**
   * Checks the credentials and says who they belong to. With a username and password, first
   * exchanges them for an access token.
   */
  async authenticate(opts: CallOptions = {}): Promise<Principal> {
    if (this.opts.username && this.opts.password && !this.token) {
      const { username, password } = this.opts;
      const { access_token } = await this.call(
        (signal) => this.trpc.auth.token.mutate({ username, password }, { signal }),
        opts,
        'if-not-processed',
      );
      this.token = access_token;
    }
    if (!this.token) {
      throw new AuthenticationError('No credentials: set HANGAR_API_KEY or pass api_key (or username and password)', {
        status: null,
        code: 'UNAUTHENTICATED',
      });
    }
    return this.whoami(opts);
  }

  whoami(opts: CallOptions = {}): Promise<Principal> {
    return this.call((signal) => this.trpc.auth.whoami.query(undefined, { signal }), opts);
  }

  // VMs

  async createVm(spec: CreateVmSpec, opts: MutationOptions = {}): Promise<VmActionResult> {
    const idempotency_key = opts.idempotency_key ?? newKey();
    const result = await this.call((signal) => this.trpc.vms.create.mutate({ ...spec, idempotency_key }, { signal }), opts);
    return this.settle(result, opts);
  }

  getVm(id: string, opts: CallOptions = {}): Promise<Vm> {
    return this.call((signal) => this.trpc.vms.get.query({ id }, { signal }), opts);
  }

  /** `for await (const vm of client.listVms({ status: 'running' }))`, or `.page()` for one page. */
  listVms(query: ListVmsQuery = {}, opts: CallOptions = {}): VmList {
    return new PagePromise(
      (cursor) => this.call((signal) => this.trpc.vms.list.query(cursor ? { ...query, page: undefined, cursor } : query, { signal }), opts),
      (page) => page.vms,
      (page) => page.next_cursor,
    );
  }

  async updateVm(id: string, patch: UpdateVmPatch, opts: MutationOptions = {}): Promise<VmActionResult> {
    const result = await this.call(
      (signal) =>
        this.trpc.vms.update.mutate(
          { ...patch, id, idempotency_key: opts.idempotency_key ?? newKey(), expected_version: opts.expected_version },
          { signal },
        ),
      opts,
    );
    return this.settle(result, opts);
  }

  /** CPU, memory and disk (disks only grow); the VM must be stopped. */
  async resizeVm(
    id: string,
    size: { cpu_cores?: number; memory_mb?: number; disk_gb?: number },
    opts: MutationOptions = {},
  ): Promise<VmActionResult> {
    const result = await this.call(
      (signal) =>
        this.trpc.vms.resize.mutate(
          { ...size, id, idempotency_key: opts.idempotency_key ?? newKey(), expected_version: opts.expected_version },
          { signal },
        ),
      opts,
    );
    return this.settle(result, opts);
  }

  /**
   * Streams a stopped VM's export (tar, or tar.gz with `compress: 'gzip'`) to `path` or
   * `stream`. The VM is `exporting` meanwhile; stopping early returns it to `stopped`.
   */
  exportVm(id: string, opts: ExportOptions): Promise<{ bytes: number; operation_id: string | null }> {
    return transfers.exportVm(this.transport(), id, opts);
  }

  /** Creates a VM (stopped) from an export, read from a file path or a stream. */
  importVm(source: string | ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>, opts: ImportOptions = {}): Promise<Vm> {
    return transfers.importVm(this.transport(), source, opts);
  }

  /** Puts an ISO (an image id, or a URL to download once) in a stopped VM's CD-ROM drive. */
  async attachIso(id: string, iso: { image_id: string } | { iso_url: string }, opts: MutationOptions = {}): Promise<VmActionResult> {
    const result = await this.call(
      (signal) =>
        this.trpc.vms.attach_iso.mutate(
          { ...iso, id, idempotency_key: opts.idempotency_key ?? newKey(), expected_version: opts.expected_version },
          { signal },
        ),
      opts,
    );
    return this.settle(result, opts);
  }

  /** Empties a stopped VM's CD-ROM drive (ValidationError `No CDROM device found` when it is empty). */
  ejectIso(id: string, opts: MutationOptions = {}): Promise<VmActionResult> {
    return this.action((input, signal) => this.trpc.vms.eject_iso.mutate(input, { signal }), id, opts);
  }

  // Images

  /** Registers an image to download from an http(s) URL (once per URL and checksum); follow `status` and `progress`. */
  registerImage(input: RegisterImageInput, opts: CallOptions = {}): Promise<Image> {
    return this.call((signal) => this.trpc.images.create.mutate(input, { signal }), opts);
  }

  /** Uploads an ISO or disk image from a file path or a stream; it is `ready` when this resolves. */
  uploadImage(
    source: string | ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>,
    opts: { name: string; kind?: 'iso' | 'disk'; signal?: AbortSignal },
  ): Promise<Image> {
    return transfers.uploadImage<Image>(this.transport(), source, opts);
  }

  getImage(id: string, opts: CallOptions = {}): Promise<Image> {
    return this.call((signal) => this.trpc.images.get.query({ id }, { signal }), opts);
  }

  /** Awaited: the images (one page); iterated: each image. */
  listImages(query: ListImagesQuery = {}, opts: CallOptions = {}): PagePromise<Image, Image[]> {
    return whole(async () => (await this.call((signal) => this.trpc.images.list.query(query, { signal }), opts)).images);
  }

  deleteImage(id: string, opts: CallOptions = {}): Promise<Image> {
    return this.call((signal) => this.trpc.images.delete.mutate({ id }, { signal }), opts);
  }

  /** Waits until an image is `ready` (resolves) or in `error` (throws OperationFailedError-like HangarError). */
  async waitForImage(id: string, opts: WaitOptions = {}): Promise<Image> {
    const deadline = Date.now() + (opts.timeout_ms ?? DEFAULT_WAIT_MS);
    for (;;) {
      // Long-polls, like the other waits: the server answers when the download ends.
      const slice = Math.max(0, Math.min(deadline - Date.now(), LONG_POLL_SLICE_MS));
      const { image, timed_out } = await this.call((signal) => this.trpc.images.wait.query({ id, timeout_ms: slice }, { signal }), {
        signal: opts.signal,
        timeout_ms: slice + 30_000,
      });
      if (image.status === 'error') {
        throw new HangarError(`Image ${id} failed: ${image.error ?? 'download failed'}`, {
          status: null,
          code: 'IMAGE_FAILED',
          details: { image },
        });
      }
      if (!timed_out) return image;
      if (Date.now() >= deadline) throw new TimeoutError(`Image ${id} was not ready in time`, { status: null, code: 'TIMEOUT' });
    }
  }

  /** The VM's hardware: cpu, memory, disk, VNC and network; on libvirt hosts also the domain XML libvirt holds (`xml_config`). */
  /** The end of what the VM's guest wrote to its serial console (`tail_bytes`, default 64 KiB). */
  getConsoleLog(id: string, query: { tail_bytes?: number } = {}, opts: CallOptions = {}): Promise<VmConsoleLog> {
    return this.call((signal) => this.trpc.vms.console_log.query({ id, ...query }, { signal }), opts);
  }

  /**
   * A ticket to open the VM's screen (VNC over a WebSocket, for noVNC): single use, valid 60 s.
   * Open `path` on the server's origin with `ws:`/`wss:` (subprotocol `binary`), e.g.
   * `new RFB(el, origin.replace(/^http/, 'ws') + path)`. Needs the operator role and a running
   * or paused VM with VNC.
   */
  consoleTicket(id: string, opts: CallOptions = {}): Promise<ConsoleTicket> {
    return this.call((signal) => this.trpc.vms.console_ticket.mutate({ id }, { signal }), opts);
  }

  getVmConfig(id: string, opts: CallOptions = {}): Promise<VmConfig> {
    return this.call((signal) => this.trpc.vms.get_config.query({ id }, { signal }), opts);
  }

  deleteVm(id: string, opts: MutationOptions & { delete_disks?: boolean; force?: boolean } = {}): Promise<VmActionResult> {
    const { delete_disks, force } = opts;
    return this.action((input, signal) => this.trpc.vms.delete.mutate({ ...input, delete_disks, force }, { signal }), id, opts);
  }

  startVm(id: string, opts: MutationOptions = {}): Promise<VmActionResult> {
    return this.action((input, signal) => this.trpc.vms.start.mutate(input, { signal }), id, opts);
  }

  /**
   * Graceful: ACPI power-off, forced off after `timeout_s` (default 30). `release_gpus`: give the
   * VM's GPUs back to its host once it is off; its next start takes them again (503 if none are free).
   */
  stopVm(id: string, opts: MutationOptions & { timeout_s?: number; release_gpus?: boolean } = {}): Promise<VmActionResult> {
    const { timeout_s, release_gpus } = opts;
    return this.action((input, signal) => this.trpc.vms.stop.mutate({ ...input, timeout_s, release_gpus }, { signal }), id, opts);
  }

  forceStopVm(id: string, opts: MutationOptions = {}): Promise<VmActionResult> {
    return this.action((input, signal) => this.trpc.vms.force_stop.mutate(input, { signal }), id, opts);
  }

  restartVm(id: string, opts: MutationOptions & { force?: boolean; timeout_s?: number } = {}): Promise<VmActionResult> {
    const { force, timeout_s } = opts;
    return this.action((input, signal) => this.trpc.vms.restart.mutate({ ...input, force, timeout_s }, { signal }), id, opts);
  }

  resetVm(id: string, opts: MutationOptions = {}): Promise<VmActionResult> {
    return this.action((input, signal) => this.trpc.vms.reset.mutate(input, { signal }), id, opts);
  }

  pauseVm(id: string, opts: MutationOptions = {}): Promise<VmActionResult> {
    return this.action((input, signal) => this.trpc.vms.pause.mutate(input, { signal }), id, opts);
  }

  resumeVm(id: string, opts: MutationOptions = {}): Promise<VmActionResult> {
    return this.action((input, signal) => this.trpc.vms.resume.mutate(input, { signal }), id, opts);
  }

  /** A VM's events, oldest first; iterated, it pages on (`after` the last event) to the newest. */
  listEvents(id: string, query: ListEventsQuery = {}, opts: CallOptions = {}): PagePromise<VmEvent, VmEvent[]> {
    const limit = query.limit ?? 100;
    return new PagePromise(
      (after) =>
        this.call((signal) => this.trpc.vms.events.query({ ...query, ...(after ? { after: Number(after) } : {}), id }, { signal }), opts),
      (page) => page,
      (page) => (page.length === limit ? String(page.at(-1)!.id) : null),
    );
  }

  /**
   * Resolves with the VM once it is in `status` (or one of several); TimeoutError after
   * `timeout_ms`. Wakes when the server sees the change, not on a polling interval.
   */
  async waitForVm(id: string, status: VmStatus | VmStatus[], opts: WaitOptions = {}): Promise<Vm> {
    const targets = Array.isArray(status) ? status : [status];
    const deadline = Date.now() + (opts.timeout_ms ?? DEFAULT_WAIT_MS);
    for (;;) {
      const slice = Math.max(0, Math.min(deadline - Date.now(), LONG_POLL_SLICE_MS));
      const { vm, timed_out } = await this.call(
        (signal) => this.trpc.vms.wait.query({ id, status: targets, timeout_ms: slice }, { signal }),
        { signal: opts.signal, timeout_ms: slice + 30_000 },
      );
      if (targets.includes(vm.status)) return vm;
      if (vm.status === 'deleted') {
        throw new ConflictError(`VM ${id} was deleted while waiting for ${targets.join(' or ')}`, {
          status: null,
          code: 'INVALID_STATE',
          details: { status: 'deleted', allowed_actions: [], operation_id: null, retryable: false },
        });
      }
      if (timed_out && Date.now() >= deadline) {
        throw new TimeoutError(`VM ${id} did not reach ${targets.join(' or ')} in time (it is ${vm.status})`, {
          status: null,
          code: 'TIMEOUT',
          details: { vm },
        });
      }
    }
  }

  // Operations

  /**
   * Every change of the project's VMs, operations and images (admins: any project or all, and
   * hosts) as it happens, filtered: `for await (const e of client.watch({ vm_id }))`. Reconnects
   * and resumes by itself, so each event comes once; ends when `opts.signal` aborts or the loop breaks.
   */
  watch(filter: WatchFilter = {}, opts: WatchOptions = {}): AsyncGenerator<WatchEvent> {
    return watchEvents(
      {
        baseUrl: this.baseUrl,
        headers: (): Record<string, string> => (this.token ? { authorization: `Bearer ${this.token}` } : {}),
        fetch: this.opts.fetch ?? globalThis.fetch,
      },
      filter,
      opts,
    );
  }

  getOperation(id: string, opts: CallOptions = {}): Promise<Operation> {
    return this.call((signal) => this.trpc.operations.get.query({ id }, { signal }), opts);
  }

  /** Awaited: the first page (`{operations, next_cursor}`); iterated: every operation, page after page. */
  listOperations(query: ListOperationsQuery = {}, opts: CallOptions = {}): PagePromise<Operation, OperationPage> {
    return new PagePromise(
      (cursor) => this.call((signal) => this.trpc.operations.list.query(cursor ? { ...query, cursor } : query, { signal }), opts),
      (page) => page.operations,
      (page) => page.next_cursor,
    );
  }

  /** Resolves once the operation has finished (succeeded, failed or cancelled); TimeoutError after `timeout_ms`. */
  async waitForOperation(id: string, opts: WaitOptions = {}): Promise<Operation> {
    const deadline = Date.now() + (opts.timeout_ms ?? DEFAULT_WAIT_MS);
    for (;;) {
      const slice = Math.max(0, Math.min(deadline - Date.now(), LONG_POLL_SLICE_MS));
      const { operation, timed_out } = await this.call((signal) => this.trpc.operations.wait.query({ id, timeout_ms: slice }, { signal }), {
        signal: opts.signal,
        timeout_ms: slice + 30_000,
      });
      if (!timed_out) return operation;
      if (Date.now() >= deadline) {
        throw new TimeoutError(`Operation ${id} (${operation.action}) did not finish in time`, {
          status: null,
          code: 'TIMEOUT',
          details: { operation },
        });
      }
    }
  }

  // Access

  createApiKey(input: CreateApiKeyInput, opts: CallOptions = {}) {
    return this.call((signal) => this.trpc.api_keys.create.mutate(input, { signal }), opts, 'if-not-processed');
  }
  listApiKeys(opts: CallOptions = {}): PagePromise<ApiKey, ApiKey[]> {
    return whole(() => this.call((signal) => this.trpc.api_keys.list.query(undefined, { signal }), opts));
  }
  revokeApiKey(id: string, opts: CallOptions = {}) {
    return this.call((signal) => this.trpc.api_keys.revoke.mutate({ id }, { signal }), opts);
  }
  createUser(input: CreateUserInput, opts: CallOptions = {}) {
    return this.call((signal) => this.trpc.users.create.mutate(input, { signal }), opts, 'if-not-processed');
  }
  listUsers(opts: CallOptions = {}): PagePromise<User, User[]> {
    return whole(() => this.call((signal) => this.trpc.users.list.query(undefined, { signal }), opts));
  }
  listProjects(opts: CallOptions = {}): PagePromise<Project, Project[]> {
    return whole(() => this.call((signal) => this.trpc.projects.list.query(undefined, { signal }), opts));
  }
  createProject(name: string, opts: CallOptions = {}) {
    return this.call((signal) => this.trpc.projects.create.mutate({ name }, { signal }), opts, 'if-not-processed');
  }
  /** A project's limits (null: unlimited) and what it uses of them. */
  getQuotas(projectId: string, opts: CallOptions = {}) {
    return this.call((signal) => this.trpc.projects.get_quotas.query({ id: projectId }, { signal }), opts);
  }
  /** Sets every limit of a project (global admins); a limit left out is unlimited. */
  setQuotas(projectId: string, limits: QuotaLimits, opts: CallOptions = {}) {
    return this.call((signal) => this.trpc.projects.set_quotas.mutate({ ...limits, id: projectId }, { signal }), opts);
  }

  /** The hypervisor hosts, with their status and why one is offline (global admins). */
  listHosts(opts: CallOptions = {}): PagePromise<Host, Host[]> {
    return whole(() => this.call((signal) => this.trpc.hosts.list.query(undefined, { signal }), opts));
  }
  /** The fleet's GPUs: host, address, model, NUMA node, health and holder (global admins). */
  listGpus(query: ListGpusQuery = {}, opts: CallOptions = {}): PagePromise<Gpu, Gpu[]> {
    return whole(() => this.call((signal) => this.trpc.gpus.list.query(query, { signal }), opts));
  }
  getHost(id: string, opts: CallOptions = {}): Promise<Host> {
    return this.call((signal) => this.trpc.hosts.get.query({ id }, { signal }), opts);
  }
  /** Domains on a host that Hangar does not manage, and never touches (global admins). */
  listUnmanagedDomains(hostId: string, opts: CallOptions = {}): PagePromise<UnmanagedDomain, UnmanagedDomain[]> {
    return whole(() => this.call((signal) => this.trpc.hosts.unmanaged_domains.query({ id: hostId }, { signal }), opts));
  }
  /** Cordons a host (by id or name): no new VMs are placed on it (global admins). */
  cordonHost(id: string, opts: CallOptions = {}): Promise<Host> {
    return this.call((signal) => this.trpc.hosts.cordon.mutate({ id }, { signal }), opts);
  }
  /** Lifts a cordon or a drain (global admins). */
  uncordonHost(id: string, opts: CallOptions = {}): Promise<Host> {
    return this.call((signal) => this.trpc.hosts.uncordon.mutate({ id }, { signal }), opts);
  }
  /** Cordons a host to empty it, and lists the VMs still on it (global admins). */
  drainHost(id: string, opts: CallOptions = {}) {
    return this.call((signal) => this.trpc.hosts.drain.mutate({ id }, { signal }), opts);
  }
  /** Replaces a host's labels, which VMs ask for with `placement.host_labels` (global admins). */
  setHostLabels(id: string, labels: Record<string, string>, opts: CallOptions = {}): Promise<Host> {
    return this.call((signal) => this.trpc.hosts.set_labels.mutate({ id, labels }, { signal }), opts);
  }
  /** Removes an empty host and revokes its agent's credentials (global admins). */
  removeHost(id: string, opts: CallOptions = {}): Promise<Host> {
    return this.call((signal) => this.trpc.hosts.remove.mutate({ id }, { signal }), opts, 'if-not-processed');
  }
  /** A token `hangar agent` joins the fleet with (HANGAR_JOIN_TOKEN), shown once (global admins). */
  createJoinToken(input: { description?: string; expires_in_hours?: number } = {}, opts: CallOptions = {}) {
    return this.call((signal) => this.trpc.join_tokens.create.mutate(input, { signal }), opts, 'if-not-processed');
  }
  listJoinTokens(opts: CallOptions = {}) {
    return this.call((signal) => this.trpc.join_tokens.list.query(undefined, { signal }), opts);
  }
  /** No more hosts join with it; those that did keep their credentials (global admins). */
  revokeJoinToken(id: string, opts: CallOptions = {}) {
    return this.call((signal) => this.trpc.join_tokens.revoke.mutate({ id }, { signal }), opts);
  }

  // Plumbing

  private async action(
    send: (input: { id: string; idempotency_key: string; expected_version?: number }, signal: AbortSignal) => Promise<VmActionResult>,
    id: string,
    opts: MutationOptions,
  ): Promise<VmActionResult> {
    const input = { id, idempotency_key: opts.idempotency_key ?? newKey(), expected_version: opts.expected_version };
    const result = await this.call((signal) => send(input, signal), opts);
    return this.settle(result, opts);
  }

  /** For `wait: true`: follows the operation to its end. */
  /** Streams' requests go the calls' way: base URL, credentials, retries; their own timeout (`transfer_timeout_ms`). */
  private transport(): Transport {
    const base = {
      baseUrl: this.baseUrl,
      headers: (): Record<string, string> => (this.token ? { authorization: `Bearer ${this.token}` } : {}),
      fetch: this.opts.fetch ?? globalThis.fetch,
    };
    return {
      request: (path, init, o) =>
        this.call(
          (signal) => transfers.sendRequest(base, path, init, signal),
          { signal: o.signal, timeout_ms: this.transferTimeoutMs },
          o.retry,
        ),
    };
  }

  private async settle(result: VmActionResult, opts: MutationOptions): Promise<VmActionResult> {
    if (!opts.wait || !result.operation) return result;
    const operation = await this.waitForOperation(result.operation.id, {
      timeout_ms: opts.wait_timeout_ms,
      signal: opts.signal,
    });
    const vm = await this.getVm(result.vm.id, opts);
    if (operation.status !== 'succeeded') {
      throw new OperationFailedError(
        `${operation.action} of VM ${vm.id} ${operation.status}: ${operation.error ?? 'no reason given'}`,
        operation,
        vm,
      );
    }
    return { vm, operation };
  }

  /**
   * One call with a timeout and retries. `always`: the call is safe to repeat (a query, or a
   * mutation carrying an idempotency key). `if-not-processed`: only when the server said it
   * did not act (429, 503).
   */
  private async call<T>(fn: (signal: AbortSignal) => Promise<T>, opts: CallOptions, retry: Retry = 'always'): Promise<T> {
    const timeoutMs = opts.timeout_ms ?? this.timeoutMs;
    for (let attempt = 0; ; attempt++) {
      const timeout = AbortSignal.timeout(timeoutMs);
      const signal = opts.signal ? AbortSignal.any([opts.signal, timeout]) : timeout;
      try {
        return await fn(signal);
      } catch (raw) {
        if (opts.signal?.aborted) throw opts.signal.reason;
        const err = timeout.aborted
          ? new TimeoutError(`No answer within ${timeoutMs} ms`, { status: null, code: 'TIMEOUT', cause: raw })
          : toSdkError(raw, this.baseUrl);
        if (attempt >= this.maxRetries || !shouldRetry(err, retry)) throw err;
        await sleep(backoff(attempt, err), opts.signal);
      }
    }
  }
}

/**
 * The server's retry hint first: `false` (repeating cannot help) is never retried, `true` is
 * retried where the SDK retries on its own (a 4xx the server calls retryable, such as a VM busy
 * with another operation, is the caller's to wait out: it is not repeated behind its back). A
 * call that is not safe to repeat (`if-not-processed`) is repeated only when the server also
 * said it did not act (429, 503).
 */
function shouldRetry(err: HangarError, retry: Retry): boolean {
  if (retry === 'never' || err.shouldRetry === false) return false;
  if (retry === 'if-not-processed') return err instanceof RateLimitError || err.status === 503;
  if (err.shouldRetry === true && err.status !== null && err.status >= 500) return true;
  if (err instanceof ConnectionError || err instanceof RateLimitError) return true;
  return err instanceof ServerError && err.status !== 501;
}

/** Exponential backoff with full jitter, or what a 429 asked for. */
function backoff(attempt: number, err: HangarError): number {
  if (err instanceof RateLimitError && err.retryAfterSeconds) return Math.min(err.retryAfterSeconds * 1000, 60_000);
  const cap = Math.min(8_000, 250 * 2 ** attempt);
  return Math.round(cap / 2 + (Math.random() * cap) / 2);
}

/** A list the server answers whole: one page, its items the array itself. */
function whole<T>(fetch: () => Promise<T[]>): PagePromise<T, T[]> {
  return new PagePromise(fetch, (items) => items);
}

function newKey(): string {
  return globalThis.crypto.randomUUID();
}
