import { z } from 'zod';
import {
  ApiKey,
  CreateApiKeyInput,
  CreateProjectInput,
  CreateUserInput,
  CreatedApiKey,
  IdRequest,
  Project,
  User,
} from '@hangar/core';
import { router } from '../trpc/init.js';
import { globalAdminProcedure, viewerProcedure } from '../trpc/procedures.js';

export const apiKeysRouter = router({
  /** A new key for yourself (or, for admins, another user of the project); the secret is shown once. */
  create: viewerProcedure
    .input(CreateApiKeyInput)
    .output(CreatedApiKey)
    .mutation(({ ctx, input }) => ctx.services.api_keys.create(ctx.principal, input)),
  list: viewerProcedure.output(z.array(ApiKey)).query(({ ctx }) => ctx.services.api_keys.list(ctx.principal)),
  revoke: viewerProcedure
    .input(IdRequest)
    .output(ApiKey)
    .mutation(({ ctx, input }) => ctx.services.api_keys.revoke(ctx.principal, input.id)),
});

export const usersRouter = router({
  create: viewerProcedure
    .input(CreateUserInput)
    .output(User)
    .mutation(({ ctx, input }) => ctx.services.users.create(ctx.principal, input)),
  list: viewerProcedure.output(z.array(User)).query(({ ctx }) => ctx.services.users.list(ctx.principal)),
});

export const projectsRouter = router({
  /** Every project for a global admin; your own otherwise. */
  list: viewerProcedure.output(z.array(Project)).query(async ({ ctx }) =>
    ctx.principal.global_admin
      ? ctx.services.projects.list()
      : [await ctx.services.projects.get(ctx.principal.project_id)],
  ),
  create: globalAdminProcedure
    .input(CreateProjectInput)
    .output(Project)
    .mutation(({ ctx, input }) => ctx.services.projects.create(input)),
});
