import { errors, type Principal, protoKeyPath, type Role, roleAtLeast, type Scope } from '@hangar/core';
import { TRPCError } from '@trpc/server';
import { toHangarError } from '../errors/to-hangar-error.js';
import { trpcCodeOf } from '../errors/trpc-code.js';
import type { Context } from './context.js';
import { t } from './init.js';

/**
 * A typed core error as a tRPC error with the right HTTP status; anything else is logged and
 * hidden. The middlewares below apply it to what a procedure throws; a subscription's generator
 * throws after they are done, so it applies it itself.
 */
export function translated(ctx: Context, error: unknown, path: string): TRPCError {
  const err = toHangarError(error);
  if (err.code === 'INTERNAL') ctx.log.error({ err: error, request_id: ctx.info.requestId, procedure: path }, 'unhandled error');
  return new TRPCError({ code: trpcCodeOf(err), message: err.message, cause: err });
}

/**
 * Refuses (400) an input holding a `__proto__` key, which its schema would drop without a word
 * (see `protoKeyPath`). Checked after authentication, as input is. An input that is not JSON is
 * left to the input's validator, which refuses it where it always did (and a procedure without
 * input ignores it).
 */
async function refuseProtoKey(getRawInput: () => Promise<unknown>): Promise<void> {
  let raw: unknown;
  try {
    raw = await getRawInput();
  } catch {
    return;
  }
  const at = protoKeyPath(raw);
  if (at) throw errors.validation(`A key named __proto__ is not accepted (at ${at})`, [{ path: at, message: 'reserved key' }]);
}

/**
 * Typed core errors become tRPC errors with the right HTTP status; the rest are logged and
 * hidden. `checkInput`: also `refuseProtoKey`, for procedures with no credentials to check first.
 */
function translateErrors(checkInput: boolean) {
  return t.middleware(async ({ ctx, next, path, getRawInput }) => {
    ctx.info.procedure = path;
    if (checkInput) {
      try {
        await refuseProtoKey(getRawInput);
      } catch (err) {
        throw translated(ctx, err, path);
      }
    }
    const result = await next();
    if (!result.ok) throw translated(ctx, result.error, path);
    return result;
  });
}

/** Procedures anyone may call (sign-in, an agent joining with its token). */
export const publicProcedure = t.procedure.use(translateErrors(true));

/**
 * A procedure for principals that pass `check` (a role, or global admin): one middleware that
 * translates errors, authenticates and checks. One level instead of three: each level of tRPC's
 * middleware chain copies the call's options and context, on every call.
 */
function guarded(check: (principal: Principal) => void) {
  return t.procedure.use(async ({ ctx, next, path, getRawInput }) => {
    ctx.info.procedure = path;
    let principal: Principal;
    try {
      principal = await ctx.auth.authenticate(ctx.authorization);
      ctx.info.principal = principal;
      check(principal);
      await refuseProtoKey(getRawInput);
    } catch (err) {
      throw translated(ctx, err, path);
    }
    const result = await next({ ctx: { principal, scope: scopeOf(principal) } });
    if (!result.ok) throw translated(ctx, result.error, path);
    return result;
  });
}

/** What a principal acts on: its project, under its name. */
export const scopeOf = (principal: Principal): Scope => ({ project_id: principal.project_id, actor: principal.username });

/** Refuses (403) a principal whose role is below `role`. */
export function requireRole(principal: Principal, role: Role): void {
  if (!roleAtLeast(principal.role, role)) {
    throw errors.forbidden(`This needs the ${role} role; your ${principal.via === 'api_key' ? 'key' : 'account'} has ${principal.role}`);
  }
}

/** Read access. */
export const viewerProcedure = guarded((p) => requireRole(p, 'viewer'));
/** Read and change VMs. */
export const operatorProcedure = guarded((p) => requireRole(p, 'operator'));
/** Everything in the project. */
export const adminProcedure = guarded((p) => requireRole(p, 'admin'));

/** Projects and users everywhere. */
export const globalAdminProcedure = guarded((p) => {
  if (!p.global_admin) throw errors.forbidden('This needs a global admin');
});

export type AuthedContext = { principal: Principal; scope: Scope };

/** `hangar agent`'s calls: agent credentials only, and every call acts for the agent's own host. */
export const agentProcedure = t.procedure.use(translateErrors(false)).use(async ({ ctx, next, getRawInput }) => {
  const agent = await ctx.auth.authenticateAgent(ctx.authorization);
  await refuseProtoKey(getRawInput);
  return next({ ctx: { agent } });
});
