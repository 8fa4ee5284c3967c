import { REQUESTABLE_ACTIONS, type RequestableAction } from '../actions/registry.js';
import type { Scope } from '../domain/project.js';
import { consoleLogger } from '../worker/logger.js';
import { DriftWatch } from '../worker/maintenance/drift.js';
import { AgentService } from './agents.js';
import type { Services, VmActionMethods } from './api.js';
import { createApiKey, listApiKeys, principalFromApiKey, revokeApiKey } from './api-keys.js';
import { bootstrap } from './bootstrap.js';
import type { ServiceDeps } from './context.js';
import { createVm } from './create-vm.js';
import { listEvents } from './events.js';
import { listGpus } from './gpus.js';
import { cordonHost, drainHost, getHost, listHosts, registerHost, removeHost, setHostLabels, setHostStatus } from './hosts.js';
import { unmanagedDomains, vmConfigXml, vmConsoleLog, vmScreen } from './hypervisor-views.js';
import { deleteImage, getImage, listImages, registerImage, uploadImage } from './images.js';
import { createJoinToken, listJoinTokens, revokeJoinToken } from './join-tokens.js';
import { getOperation, listOperations } from './operations.js';
import { createProject, ensureProject, getProject, listProjects } from './projects.js';
import { getQuotas, setQuotas } from './quotas.js';
import { requestAction } from './request-action.js';
import { getOrCreateSetting } from './settings.js';
import { authenticatePassword, principalForUser } from './sign-in.js';
import { updateVm } from './update-vm.js';
import { createUser, listUsers } from './users.js';
import { attachIso, ejectIso } from './vm-media.js';
import { getVm, listVms } from './vm-queries.js';
import { waitForImage, waitForOperation, waitForOutcome, waitForVm } from './waits.js';
import { openWatch } from './watch.js';

type Tail<F> = F extends (db: never, ...rest: infer R) => infer O ? (...args: R) => O : never;

/** Binds the first argument (the database) of each function. */
function bind<T extends Record<string, (db: never, ...args: never[]) => unknown>>(first: unknown, fns: T): { [K in keyof T]: Tail<T[K]> } {
  return Object.fromEntries(
    Object.entries(fns).map(([k, f]) => [k, (...args: unknown[]) => (f as (...a: unknown[]) => unknown)(first, ...args)]),
  ) as never;
}

/** `vms.start`, `vms.stop`, …: one per requestable action, from the action registry. */
function actionMethods({ db }: ServiceDeps): VmActionMethods {
  return Object.fromEntries(
    REQUESTABLE_ACTIONS.map((a: RequestableAction) => [
      a,
      (scope: Scope, id: string, opts?: object) => requestAction(db, scope, id, a, opts),
    ]),
  ) as VmActionMethods;
}

/** The agent service's methods, bound (the transport calls them as plain functions). */
function agentMethods(a: AgentService): Services['agents'] {
  return {
    join: (input) => a.join(input),
    authenticate: (credential) => a.authenticate(credential),
    hello: (agent, input) => a.hello(agent, input),
    report: (agent, input) => a.report(agent, input),
    domainChanged: (agent, input) => a.domainChanged(agent, input),
    claim: (agent, input, signal) => a.claim(agent, input, signal),
    renew: (agent, input) => a.renew(agent, input),
    finish: (agent, input) => a.finish(agent, input),
    defer: (agent, input) => a.defer(agent, input),
    checkpoint: (agent, input) => a.checkpoint(agent, input),
    image: (agent, input, signal) => a.image(agent, input, signal),
    mayReadImage: (agent, id) => a.mayReadImage(agent, id),
  };
}

/** Every use case, bound to one database: what the transport calls. */
export function createServices(deps: ServiceDeps): Services {
  const { db } = deps;
  return {
    vms: {
      ...bind(db, {
        get: getVm,
        list: listVms,
        update: updateVm,
        events: listEvents,
      }),
      create: (scope, input, opts) => createVm(db, scope, input, opts, { strategy: deps.placement_strategy }),
      ...actionMethods(deps),
      wait: (scope, id, status, opts) => waitForVm(deps, scope, id, status, opts),
      ...bind(db, { attach_iso: attachIso, eject_iso: ejectIso }),
      config_xml: (scope, id) => vmConfigXml(deps, scope, id),
      console_log: (scope, input) => vmConsoleLog(deps, scope, input),
      screen: (scope, id) => vmScreen(deps, scope, id),
    },
    images: {
      ...bind(db, { register: registerImage, get: getImage, list: listImages }),
      upload: (scope, input, body) => uploadImage(db, deps.images, scope, input, body),
      wait: (scope, id, opts) => waitForImage(deps, scope, id, opts),
      delete: (scope, id) => deleteImage(db, deps.images, scope, id),
    },
    operations: {
      ...bind(db, { get: getOperation, list: listOperations }),
      wait: (scope, id, opts) => waitForOperation(deps, scope, id, opts),
      outcome: (scope, id, opts) => waitForOutcome(deps, scope, id, opts),
    },
    hosts: {
      ...bind(db, { register: registerHost, list: listHosts, get: getHost, setStatus: setHostStatus }),
      unmanaged: (id) => unmanagedDomains(deps, id),
      ...bind(db, { drain: drainHost, set_labels: setHostLabels, remove: removeHost }),
      cordon: (id) => cordonHost(db, id, true),
      uncordon: (id) => cordonHost(db, id, false),
    },
    events: {
      watch: (who, filter, signal) => openWatch(db, deps.feed, who, filter, signal),
    },
    gpus: bind(db, { list: listGpus }),
    join_tokens: bind(db, { create: createJoinToken, list: listJoinTokens, revoke: revokeJoinToken }),
    agents: agentMethods(
      new AgentService({
        db,
        notifier: deps.notifier,
        drift: new DriftWatch(db, deps.logger ?? consoleLogger, deps.telemetry),
        lease_ms: deps.agent_lease_ms,
        telemetry: deps.telemetry,
      }),
    ),
    projects: bind(db, {
      create: createProject,
      ensure: ensureProject,
      get: getProject,
      list: listProjects,
      quotas: getQuotas,
      set_quotas: setQuotas,
    }),
    users: bind(db, { create: createUser, list: listUsers }),
    api_keys: bind(db, { create: createApiKey, list: listApiKeys, revoke: revokeApiKey }),
    auth: bind(db, {
      password: authenticatePassword,
      apiKey: principalFromApiKey,
      user: principalForUser,
      setting: getOrCreateSetting,
      bootstrap,
    }),
  };
}
export { type PlacementStrategy, release, reserve } from '../scheduler/reserve.js';
export type { AgentPrincipal, Services, WaitCallOptions } from './api.js';
export {
  API_KEY_PREFIX,
  createApiKey,
  createKeyForUser,
  insertApiKey,
  listApiKeys,
  principalFromApiKey,
  revokeApiKey,
} from './api-keys.js';
export * from './archive/index.js';
export { type BootstrapOptions, type BootstrapResult, bootstrap } from './bootstrap.js';
export type { ServiceDeps } from './context.js';
export { decodeCursor, encodeCursor } from './cursor.js';
export { registerHost, setHostStatus } from './hosts.js';
export { createJoinToken } from './join-tokens.js';
export { createProject, ensureProject, getProject, listProjects } from './projects.js';
export { getOrCreateSetting } from './settings.js';
export { authenticatePassword, principalForUser } from './sign-in.js';
export { createUser, listUsers } from './users.js';
export { parse, parseId } from './validate.js';
export { WaitOptions } from './waits.js';
export type { OpenedWatch, Watcher } from './watch.js';
