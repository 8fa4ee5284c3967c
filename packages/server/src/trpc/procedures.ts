import { errors, type Principal, type Role, roleAtLeast, type Scope } from '@hangar/core';
import { TRPCError } from '@trpc/server';
import { toHangarError } from '../errors/to-hangar-error.js';
import { trpcCodeOf } from '../errors/trpc-code.js';
import { t } from './init.js';

/** Every procedure: typed core errors become tRPC errors with the right HTTP status; the rest are logged and hidden. */
const translateErrors = t.middleware(async ({ ctx, next, path }) => {
  ctx.info.procedure = path;
  const result = await next();
  if (!result.ok) {
    const err = toHangarError(result.error);
    if (err.code === 'INTERNAL') ctx.log.error({ err: result.error, request_id: ctx.info.requestId, procedure: path }, 'unhandled error');
    throw new TRPCError({ code: trpcCodeOf(err), message: err.message, cause: err });
  }
  return result;
});

export const publicProcedure = t.procedure.use(translateErrors);

const authenticated = publicProcedure.use(async ({ ctx, next }) => {
  const principal = await ctx.auth.authenticate(ctx.authorization);
  ctx.info.principal = principal;
  return next({ ctx: { principal, scope: scopeOf(principal) } });
});

/** What a principal acts on: its project, under its name. */
export const scopeOf = (principal: Principal): Scope => ({ project_id: principal.project_id, actor: principal.username });

/** Refuses (403) a principal whose role is below `role`. */
export function requireRole(principal: Principal, role: Role): void {
  if (!roleAtLeast(principal.role, role)) {
    throw errors.forbidden(`This needs the ${role} role; your ${principal.via === 'api_key' ? 'key' : 'account'} has ${principal.role}`);
  }
}

function atLeast(role: Role) {
  return authenticated.use(({ ctx, next }) => {
    requireRole(ctx.principal, role);
    return next();
  });
}

/** Read access. */
export const viewerProcedure = atLeast('viewer');
/** Read and change VMs. */
export const operatorProcedure = atLeast('operator');
/** Everything in the project. */
export const adminProcedure = atLeast('admin');

/** Projects and users everywhere. */
export const globalAdminProcedure = authenticated.use(({ ctx, next }) => {
  if (!ctx.principal.global_admin) throw errors.forbidden('This needs a global admin');
  return next();
});

export type AuthedContext = { principal: Principal; scope: Scope };

/** `hangar agent`'s calls: agent credentials only, and every call acts for the agent's own host. */
export const agentProcedure = publicProcedure.use(async ({ ctx, next }) => {
  const agent = await ctx.auth.authenticateAgent(ctx.authorization);
  return next({ ctx: { agent } });
});
